export type { OwnedWrites } from './owned-writes.js';
export { importRawImage, fixedIndexName } from './import-image.js';
export type { ImportReport, ImportProgress } from './import-image.js';
export { pushCasyncStore } from './push-casync.js';
export type { PushReport } from './push-casync.js';
export { listImageIndexes } from './images.js';
export type { ImageEntry } from './images.js';
export { forEachLimit } from './pool.js';
