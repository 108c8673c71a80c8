import type { Config } from '@larder/config';

/** What every command gets: its arguments after the command name, the config loader and output streams. */
export interface CommandContext {
  args: string[];
  config: () => Config;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** A CLI command: a one-line summary, its usage, and what it does. */
export interface Command {
  summary: string;
  usage: string;
  run(ctx: CommandContext): Promise<void>;
}
