export { startGateway } from './gateway.js';
export type { Gateway, GatewayDeps } from './gateway.js';
export { ChunkStore } from './chunk-store.js';
