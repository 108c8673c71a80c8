export { Volume } from './volume.js';
export { chunkKey, parseChunkKey } from './chunk-key.js';
export { fileIdentity, quarantineChunk, verifyChunkFile, type ChunkCheck, type ChunkFileVerdict, type QuarantineIndex, type QuarantineResult } from './verify.js';
