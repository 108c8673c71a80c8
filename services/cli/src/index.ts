export { runCli } from './run-cli.js';
export { commands } from './commands/index.js';
export type { Command, CommandContext } from './command.js';
export { CliError, usage } from './cli-error.js';
export { Progress } from './progress.js';
export { gatewayUrl, gatewayGet } from './gateway-client.js';
