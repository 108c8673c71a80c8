import type { NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import type { ConfigChange, ConfigChangeResult, ConfigSnapshot, HistoryEntry } from '@larder/config-cache';
import type { Logger } from '@larder/telemetry';

/** Options of {@link startConfigService}. */
export interface ConfigServiceOptions {
  nc: NatsConnection;
  /** The config file this service owns. */
  file: string;
  /** Namespace whose subjects it serves (the file's own `namespace` is only read at the next start). */
  namespace: string;
  /** Re-read the file this often (ms) and make a new generation when its digest changed; default 60 000. */
  ttlMs?: number;
  /** Where kept versions and the generation state live; default `<config dir>/.larder/config-history/<file name>`. */
  historyDir?: string;
  /** How many versions to keep; default 100. */
  historyLimit?: number;
  log?: Logger;
  /** The environment LARDER_TOKENS is read from (default the process's). */
  env?: NodeJS.ProcessEnv;
}

/** The state the config-service keeps beside the history so generations survive a restart. */
export interface GenerationState {
  generation: number;
  digest: string;
  at: string;
}

/** The generation in force inside the config-service. */
export interface ServedConfig extends ConfigSnapshot {
  /** The file's config, validated (no env overrides). */
  config: Config;
}

/** A running config-service. */
export interface ConfigService {
  readonly generation: number;
  readonly file: string;
  readonly historyDir: string;
  /** The generation in force as served. */
  snapshot(): ConfigSnapshot;
  /** Why the file on disk is not in force (a refused hand edit), if it is not. */
  lastError(): string | undefined;
  /** Re-read the file now (as the TTL does). */
  checkFile(): Promise<void>;
  /** Apply a change as the CLI does. */
  apply(change: ConfigChange): Promise<ConfigChangeResult>;
  /** Every kept version, oldest first. */
  history(): Promise<HistoryEntry[]>;
  stop(): Promise<void>;
}
