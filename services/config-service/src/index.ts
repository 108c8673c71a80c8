export { startConfigService } from './config-service.js';
export type { ConfigService, ConfigServiceOptions, GenerationState, ServedConfig } from './types.js';
export { ConfigChangeError } from './errors.js';
