export { ChunkReadahead, MAX_INFLIGHT, type ChunkReadaheadStats, type Prefetch } from './chunk-readahead.js';
export { IndexMap, MappedIndex, type IndexMapStats, type IndexSource, type Place } from './index-map.js';
export { PositionTable, SLOT_BYTES, MAX_PER_KEY } from './position-table.js';
