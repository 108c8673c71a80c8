export type { GcEngine, GcEngineDeps, GcRunOptions } from './gc-types.js';
export { createGcEngine, gcWorkDir } from './gc-engine.js';
export { GcAbort } from './gc-errors.js';
export { DigestFileWriter, DigestReader, DigestSet } from './digest-file.js';
export { startGcWorker, DEFAULT_LEASE_MS, DEFAULT_SCHEDULE_CHECK_MS } from './gc-service.js';
export type { GcWorker, GcWorkerDeps } from './gc-service.js';
export { newGcReport } from './gc-report.js';
