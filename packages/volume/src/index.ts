export { Volume } from './volume.js';
export { chunkKey, parseChunkKey } from './chunk-key.js';
export { VolumeSpace, volumeSpace, isShortfall, isNoSpace } from './space.js';
export type { SpaceLease, SpaceShortfall } from './space.js';
