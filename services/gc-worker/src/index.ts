export type { GcEngine, GcEngineDeps, GcRunOptions } from './gc-types.js';
