export { startConfigService } from './config-service.js';
export type { ConfigService, ConfigServiceOptions, GenerationState, ServedConfig } from './types.js';
export { ConfigChangeError } from './errors.js';
export { editConfigText, parseValue, splitPath } from './edit-text.js';
export { HistoryStore, defaultHistoryDir } from './history-store.js';
export { loadConfigOrLastGood } from './last-good.js';
export { digestOf, writeFileAtomic } from './file-io.js';
