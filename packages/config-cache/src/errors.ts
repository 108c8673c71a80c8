/** A config cache that cannot start: no initial config and no answer from the config-service. */
export class ConfigCacheError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigCacheError';
  }
}
