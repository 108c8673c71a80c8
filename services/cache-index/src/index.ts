export { startCacheIndex } from './index-service.js';
export type { CacheIndexService } from './index-service.js';
export { effectiveCapacity } from './capacity.js';
export type { EvictionReport } from './evictor.js';
export type { ReconcileReport } from './reconciler.js';
export type { IndexHealth, IndexState, RebuildReport } from './index-watch.js';
export type { ScrubFinding, ScrubReport, ScrubStatus } from './scrubber.js';
