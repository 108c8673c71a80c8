export type { GcEngine, GcEngineDeps, GcRunOptions } from './gc-types.js';
export { startGcWorker, DEFAULT_LEASE_MS, DEFAULT_SCHEDULE_CHECK_MS } from './gc-service.js';
export type { GcWorker, GcWorkerDeps } from './gc-service.js';
export { loadGcEngine } from './engine-loader.js';
