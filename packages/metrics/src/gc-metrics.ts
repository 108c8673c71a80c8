import { Counter, Gauge } from 'prom-client';
import { registry } from './registry.js';

const registers = [registry];

// GC worker: runs and what they reclaimed (applied runs only; a dry run reclaims nothing).
/** GC runs ended, by datastore and result (done, failed, cancelled, abandoned: its worker died). */
export const gcRuns = new Counter({
  name: 'larder_gc_runs_total',
  help: 'GC runs ended, by datastore and result (done, failed, cancelled, abandoned).',
  labelNames: ['store', 'result'],
  registers,
});
/** When the last GC run of a datastore ended (this worker's view: take the max over workers). */
export const gcLastRunTimestamp = new Gauge({
  name: 'larder_gc_last_run_timestamp_seconds',
  help: 'End of the last GC run of a datastore (epoch seconds).',
  labelNames: ['store'],
  registers,
});
/** How long the last GC run of a datastore took. */
export const gcLastDuration = new Gauge({ name: 'larder_gc_last_duration_seconds', help: 'Duration of the last GC run of a datastore.', labelNames: ['store'], registers });
/** Chunks applied GC runs removed, from the cache or from S3. */
export const gcReclaimedChunks = new Counter({
  name: 'larder_gc_reclaimed_chunks_total',
  help: 'Chunks applied GC runs removed, by datastore and where (cache, s3).',
  labelNames: ['store', 'where'],
  registers,
});
/** Bytes applied GC runs removed, from the cache or from S3. */
export const gcReclaimedBytes = new Counter({
  name: 'larder_gc_reclaimed_bytes_total',
  help: 'Bytes applied GC runs removed, by datastore and where (cache, s3).',
  labelNames: ['store', 'where'],
  registers,
});
