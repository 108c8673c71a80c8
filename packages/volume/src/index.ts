export { Volume } from './volume.js';
export { chunkKey, parseChunkKey } from './chunk-key.js';
export { fileIdentity, quarantineChunk, sameFile, verifyChunkFile, type ChunkCheck, type FileIdentity, type ChunkFileVerdict, type QuarantineIndex, type QuarantineResult } from './verify.js';
