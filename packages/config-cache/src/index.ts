export { ConfigCache } from './config-cache.js';
export { DEFAULT_CONFIG_TTL_MS } from '@larder/config';
export { ConfigCacheError } from './errors.js';
export { configFromSnapshot } from './build-config.js';
export { requestConfig, requestConfigChange, requestConfigHistory, TOKEN_HEADER } from './config-client.js';
export { RESTART_PATHS, needsRestart, restartRequiredFor, changedPaths } from './restart-paths.js';
export type {
  ConfigCacheOptions,
  ConfigCacheStatus,
  ConfigChangeEvent,
  ConfigChange,
  ConfigChangeResult,
  ConfigGetReply,
  ConfigGetRequest,
  ConfigHistoryReply,
  ConfigHistoryRequest,
  ConfigSnapshot,
  GenerationAnnouncement,
  GenerationSource,
  HistoryEntry,
} from './types.js';
