export type { GcEngine, GcEngineDeps, GcRunOptions } from './gc-types.js';
export { createGcEngine, gcWorkDir } from './gc-engine.js';
export { GcAbort } from './gc-errors.js';
export { DigestFileWriter, DigestReader, DigestSet } from './digest-file.js';
