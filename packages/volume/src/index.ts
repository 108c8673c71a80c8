export { Volume } from './volume.js';
export { chunkKey, parseChunkKey } from './chunk-key.js';
export { SavedIndexes, SAVED_INDEX_LIMITS } from './saved-indexes.js';
export type { SavedIndexLimits } from './saved-indexes.js';
export {
  fileIdentity,
  preadAll,
  quarantineChunk,
  sameFile,
  verifyChunkFile,
  type ChunkCheck,
  type FileIdentity,
  type ChunkFileVerdict,
  type QuarantineIndex,
  type QuarantineResult,
} from './verify.js';
export { VolumeSpace, volumeSpace, isShortfall, isNoSpace } from './space.js';
export type { SpaceLease, SpaceShortfall } from './space.js';
export { ChunkWriter } from './chunk-writer.js';
export type { ChunkWriterDeps, ChunkWriterSettings, RoomRequest } from './chunk-writer.js';
export { ScrubLoop } from './scrub-loop.js';
export type { ScrubLoopOptions } from './scrub-loop.js';
