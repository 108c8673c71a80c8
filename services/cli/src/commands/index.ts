import type { Command } from '../command.js';
import { get } from './get.js';
import { importCommand } from './import.js';
import { pushCasync } from './push-casync.js';
import { status } from './status.js';

/** Every CLI command by name. */
export const commands: Record<string, Command> = {
  status,
  import: importCommand,
  'push-casync': pushCasync,
  get,
};
