export { connectNodeDeps } from './node-deps.js';
export type { NodeDeps } from './node-deps.js';
export { runMain } from './run-main.js';
export type { MainOptions } from './run-main.js';
export { connectServiceConfig } from './service-config.js';
export type { ServiceConfig, ServiceConfigOptions } from './service-config.js';
