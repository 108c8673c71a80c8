import { loadConfig, type Config } from '@larder/config';
import { CliError } from './cli-error.js';
import { commands } from './commands/index.js';

function help(): string {
  const lines = Object.values(commands).map((c) => `  ${c.usage.padEnd(64)} ${c.summary}`);
  return `Larder: a cache tier for chunked backups and disk images in S3.\n\nUsage:\n${lines.join('\n')}\n\nConfiguration: larder.yaml in the working directory, or LARDER_CONFIG=FILE.\n`;
}

/** Run the CLI with arguments (without node and script); returns the exit code. */
export async function runCli(argv: string[], io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream } = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.out.write(help());
    return name ? 0 : 2;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    io.err.write(`larder: unknown command ${JSON.stringify(name)}\n\n${help()}`);
    return 2;
  }
  let config: Config | undefined;
  try {
    await command.run({ args, config: () => (config ??= loadConfig()), ...io });
    return 0;
  } catch (err) {
    const e = err as Error;
    const code = err instanceof CliError ? err.exitCode : 1;
    io.err.write(`larder ${name}: ${e.message}\n`);
    return code;
  }
}
