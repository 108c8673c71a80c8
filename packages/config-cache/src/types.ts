import type { NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import type { Logger } from '@larder/telemetry';

/** What the config-service broadcasts on the generation subject after every change (and when it starts). */
export interface GenerationAnnouncement {
  generation: number;
  /** sha256 (hex) of the file text of this generation. */
  digest: string;
}

/** A request for the current config; with `known` and `digest` matching the current generation the answer is short. */
export interface ConfigGetRequest {
  known?: number;
  digest?: string;
}

/** One generation of the config as the config-service serves it: the file as written, not validated by the reader yet. */
export interface ConfigSnapshot extends GenerationAnnouncement {
  /** The config file on the config-service's host. */
  file: string;
  /** Directory relative paths (volume.path, s3.embedded.directory) are resolved against. */
  baseDir: string;
  /** The YAML text of this generation. */
  text: string;
  /** The parsed YAML mapping of this generation (no env overrides, no defaults). */
  raw: Record<string, unknown>;
  /** When this generation was made (ISO 8601). */
  updatedAt: string;
  /** Why the file on disk is not in force (a refused hand edit), when it is not. */
  lastError?: string;
}

/** The answer to a {@link ConfigGetRequest}. */
export type ConfigGetReply = (GenerationAnnouncement & { unchanged: true }) | (ConfigSnapshot & { unchanged?: false });

/** A change the CLI asks for: set or remove one dotted path (value as YAML text), or replace the whole file. */
export type ConfigChange = { op: 'set'; path: string; value: string } | { op: 'unset'; path: string } | { op: 'replace'; text: string; baseGeneration?: number };

/** What a change did. */
export interface ConfigChangeResult extends GenerationAnnouncement {
  /** True when the file already said so: no new generation. */
  unchanged: boolean;
  /** Dotted config paths whose validated value changed. */
  changed: string[];
  /** The changed paths a running service cannot apply without a restart. */
  restartRequired: string[];
}

/** Where a generation came from: the file found at start, a hand edit of the file, or the CLI. */
export type GenerationSource = 'start' | 'file' | 'cli';

/** One kept version of the config file. */
export interface HistoryEntry extends GenerationAnnouncement {
  at: string;
  source: GenerationSource;
  changed: string[];
  restartRequired: string[];
}

/** A request for the history: every kept version, or one with its text. */
export interface ConfigHistoryRequest {
  generation?: number;
}

/** The answer to a {@link ConfigHistoryRequest}. */
export type ConfigHistoryReply = { entries: HistoryEntry[] } | { entry: HistoryEntry; text: string };

/** Options of a {@link ConfigCache}. */
export interface ConfigCacheOptions {
  nc: NatsConnection;
  namespace: string;
  /** Ask for the current generation when no broadcast came for this long (ms); default 60 000. */
  ttlMs?: number;
  /** The config the process started with: served until the config-service answers, and kept if it never does. */
  initial?: Config;
  log?: Logger;
  /** Environment overrides applied on top of the served file (as loadConfig does); `false` for none. Default process.env. */
  env?: NodeJS.ProcessEnv | false;
  /** Applied to every config after validation (e.g. fill in the embedded S3 endpoint). */
  transform?: (config: Config) => Config;
  /** Timeout of one request to the config-service (ms); default 2000. */
  requestTimeoutMs?: number;
  /** A token sent with config requests (LARDER_TOKEN): an admin token for every datastore receives the config with its secrets. */
  token?: string;
  /**
   * The process's own config mapping (its file), read at each new generation: the secrets the config-service
   * serves redacted are taken from it (by path; list items by name) and from the environment overrides.
   */
  localSecrets?: () => Record<string, unknown>;
}

/** What a cache reports in logs and `/v1/status`. */
export interface ConfigCacheStatus {
  /** Generation in force; 0 = the local config the process started with, never confirmed by the config-service. */
  generation: number;
  digest?: string;
  configServiceOnline: boolean;
  /** Why the last attempt to get or apply a config failed, while that lasts. */
  lastError?: string;
  /** Config paths changed since this process started that it cannot apply without a restart. */
  restartRequired: string[];
  /** When the config in force was applied (ISO 8601). */
  lastUpdate: string;
  /** When the config-service last answered or broadcast (ISO 8601). */
  lastContact?: string;
  ttlMs: number;
}

/** Passed to change listeners after a new generation is in force. */
export interface ConfigChangeEvent {
  generation: number;
  config: Config;
  previous: Config;
  /** Paths whose value changed from the previous config in force. */
  changed: string[];
  /** Paths changed since start that need a restart (cumulative). */
  restartRequired: string[];
}
