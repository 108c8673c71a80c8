export { connectNodeDeps } from './node-deps.js';
export type { NodeDeps } from './node-deps.js';
export { runMain } from './run-main.js';
