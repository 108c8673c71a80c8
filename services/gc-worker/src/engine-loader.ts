import type { GcEngine, GcEngineDeps } from './gc-types.js';

/**
 * The GC engine of this build: `createGcEngine(deps)` from gc-engine.js, which is written on its own branch. Loaded
 * by name so that the service builds without it; once both are merged this becomes a static import.
 */
export async function loadGcEngine(deps: GcEngineDeps): Promise<GcEngine> {
  const file = './gc-engine.js';
  let mod: { createGcEngine?: (deps: GcEngineDeps) => GcEngine };
  try {
    mod = (await import(file)) as typeof mod;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new Error('this build of the gc-worker has no GC engine (gc-engine.js)', { cause: err });
    throw err;
  }
  if (typeof mod.createGcEngine !== 'function') throw new Error('gc-engine.js does not export createGcEngine');
  return mod.createGcEngine(deps);
}
