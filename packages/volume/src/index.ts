export { Volume } from './volume.js';
export { chunkKey, parseChunkKey } from './chunk-key.js';
