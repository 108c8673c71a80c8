import type { Config } from '@larder/config';

/**
 * A read-only Config object whose top-level fields are read from `get()` on every access, for code
 * that keeps a Config value instead of a getter: `live.fetcher.concurrency` follows the cache.
 * Nested objects are the current ones at access time; keep the top-level object, not a nested one.
 */
export function liveConfig(get: () => Config): Config {
  const readOnly = () => {
    throw new TypeError('a live config is read-only');
  };
  return new Proxy({} as Config, {
    get: (_t, p) => Reflect.get(get(), p),
    has: (_t, p) => Reflect.has(get(), p),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_t, p) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), p);
      return d ? { ...d, configurable: true } : undefined;
    },
    set: readOnly,
    defineProperty: readOnly,
    deleteProperty: readOnly,
  });
}
