import type { Command } from '../command.js';
import { configCommand } from './config.js';
import { gc } from './gc.js';
import { get } from './get.js';
import { importCommand } from './import.js';
import { pushCasync } from './push-casync.js';
import { restore } from './restore.js';
import { status } from './status.js';
import { warm } from './warm.js';

/** Every CLI command by name. */
export const commands: Record<string, Command> = {
  status,
  import: importCommand,
  'push-casync': pushCasync,
  get,
  restore,
  warm,
  config: configCommand,
  gc,
};
