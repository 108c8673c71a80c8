export { startGateway } from './gateway.js';
export type { Gateway, GatewayDeps } from './gateway.js';
export { ChunkSource } from './chunk-source.js';
