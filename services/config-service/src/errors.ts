/** A change the config-service refuses, with the HTTP-like code it answers with (400 invalid, 409 conflict, 500 failed). */
export class ConfigChangeError extends Error {
  constructor(
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConfigChangeError';
  }
}
