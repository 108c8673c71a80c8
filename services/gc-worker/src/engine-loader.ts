import type { GcEngine, GcEngineDeps } from './gc-types.js';

/**
 * The GC engine of this build: `createGcEngine(deps)` from gc-engine.js, which is written on its own branch; undefined
 * when this build has none. Loaded by name so that the service builds without it; once both are merged this becomes
 * a static import.
 */
export async function loadGcEngine(deps: GcEngineDeps): Promise<GcEngine | undefined> {
  const file = './gc-engine.js';
  let mod: { createGcEngine?: (deps: GcEngineDeps) => GcEngine };
  try {
    mod = (await import(file)) as typeof mod;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('gc-engine.js')) return undefined;
    throw err;
  }
  if (typeof mod.createGcEngine !== 'function') throw new Error('gc-engine.js does not export createGcEngine');
  return mod.createGcEngine(deps);
}
