/** A failure the CLI reports as one line on stderr, with an exit code (2: usage, 1: the operation failed). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** A usage error: exit code 2. */
export function usage(message: string): CliError {
  return new CliError(`${message}\nRun 'larder help' for usage.`, 2);
}
