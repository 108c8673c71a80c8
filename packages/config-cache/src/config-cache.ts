import { subjects, decodeJson, type Subscription } from '@larder/bus';
import { DEFAULT_CONFIG_TTL_MS, resolveDatastore, resolveDatastores, type Config, type ResolvedDatastore } from '@larder/config';
import { createLogger, type Logger } from '@larder/telemetry';
import { configFromSnapshot } from './build-config.js';
import { requestConfig } from './config-client.js';
import { ConfigCacheError } from './errors.js';
import { changedPaths, restartRequiredFor } from './restart-paths.js';
import type { ConfigCacheOptions, ConfigCacheStatus, ConfigChangeEvent, ConfigSnapshot, GenerationAnnouncement } from './types.js';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The config of one process, kept current by the config-service. The hot path ({@link current},
 * {@link datastore}) reads fields: no file read, no parse, no hashing. A generation broadcast makes the
 * cache fetch the new config once (concurrent triggers coalesce); without a broadcast for `ttlMs` it asks
 * for the current generation. When the config-service is unreachable it keeps the last good config.
 */
export class ConfigCache {
  private config!: Config;
  private gen = 0;
  private dig: string | undefined;
  private boot: Config | undefined;
  private online = true;
  private fetchError: string | undefined;
  private applyError: string | undefined;
  private refusedGeneration: number | undefined;
  private restart: string[] = [];
  private lastUpdate = new Date();
  private lastContact: Date | undefined;
  private readonly listeners = new Set<(e: ConfigChangeEvent) => void>();
  private readonly log: Logger;
  private readonly ttlMs: number;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  private constructor(private readonly opts: Omit<ConfigCacheOptions, 'nc' | 'namespace'> & Partial<Pick<ConfigCacheOptions, 'nc' | 'namespace'>>) {
    this.log = opts.log ?? createLogger('config-cache');
    this.ttlMs = opts.ttlMs ?? DEFAULT_CONFIG_TTL_MS;
    if (opts.initial) {
      this.boot = opts.initial;
      this.install(opts.initial);
    }
  }

  /**
   * A cache that holds `config` and never asks a config-service (generation 0, config-service offline): the
   * degenerate case of the same route, for a process or stack that runs without a config-service.
   */
  static fixed(config: Config, opts: { log?: Logger } = {}): ConfigCache {
    const cache = new ConfigCache({ initial: config, log: opts.log });
    cache.stopped = true;
    cache.online = false;
    return cache;
  }

  /** Start a cache: subscribe to generation broadcasts and fetch the current config (falls back to `initial`). */
  static async start(opts: ConfigCacheOptions): Promise<ConfigCache> {
    const cache = new ConfigCache(opts);
    cache.sub = opts.nc.subscribe(subjects(opts.namespace).configGeneration, {
      callback: (err, msg) => {
        if (err) return;
        try {
          cache.onAnnouncement(decodeJson<GenerationAnnouncement>(msg.data));
        } catch (e) {
          cache.log.warn('ignoring a malformed generation broadcast', { err: message(e) });
        }
      },
    });
    await cache.refresh();
    if (!cache.boot) {
      await cache.stop();
      throw new ConfigCacheError(
        `no config: the config-service of namespace ${opts.namespace} did not answer (${cache.fetchError ?? cache.applyError ?? 'unknown error'}) and no initial config was given`,
      );
    }
    return cache;
  }

  /** The config in force (hot path: a field read). */
  current(): Config {
    return this.config;
  }

  /** A datastore resolved against the `s3` defaults, or undefined (hot path: resolved once per generation, see resolveDatastore). */
  datastore(name: string): ResolvedDatastore | undefined {
    return resolveDatastore(this.config, name);
  }

  /** The generation in force; 0 while running on the initial config. */
  get generation(): number {
    return this.gen;
  }

  /** Call `listener` after each new generation is in force; returns an unsubscribe function. */
  onChange(listener: (e: ConfigChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Generation, whether the config-service answers, the last error and what needs a restart. */
  status(): ConfigCacheStatus {
    const lastError = this.fetchError ?? this.applyError;
    return {
      generation: this.gen,
      ...(this.dig ? { digest: this.dig } : {}),
      configServiceOnline: this.online,
      ...(lastError ? { lastError } : {}),
      restartRequired: [...this.restart],
      lastUpdate: this.lastUpdate.toISOString(),
      ...(this.lastContact ? { lastContact: this.lastContact.toISOString() } : {}),
      ttlMs: this.ttlMs,
    };
  }

  /** Ask the config-service now and apply a new generation if there is one; concurrent calls share one request. */
  refresh(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    clearTimeout(this.timer);
    const run = async () => {
      do {
        this.again = false;
        await this.syncOnce();
      } while (this.again && !this.stopped);
    };
    this.inflight = run().finally(() => {
      this.inflight = undefined;
      this.arm();
    });
    return this.inflight;
  }

  /** Stop listening and polling; the last config stays readable. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.sub?.unsubscribe();
    await this.inflight?.catch(() => {});
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.refresh(), this.ttlMs);
    this.timer.unref();
  }

  private onAnnouncement(a: GenerationAnnouncement): void {
    if (this.stopped) return;
    this.markOnline();
    if (a.generation === this.gen && a.digest === this.dig) {
      if (!this.inflight) this.arm();
      return;
    }
    void this.refresh();
  }

  private async syncOnce(): Promise<void> {
    const { nc, namespace } = this.opts;
    if (!nc || namespace === undefined) return;
    let reply;
    try {
      reply = await requestConfig(nc, namespace, { known: this.gen, digest: this.dig }, this.opts.requestTimeoutMs, this.opts.token);
    } catch (err) {
      this.markOffline(err);
      return;
    }
    this.markOnline();
    if (reply.unchanged) return;
    this.apply(reply);
  }

  private apply(snap: ConfigSnapshot): void {
    let next: Config;
    try {
      next = configFromSnapshot(snap, { env: this.opts.env, transform: this.opts.transform, localSecrets: this.opts.localSecrets });
    } catch (err) {
      this.applyError = `generation ${snap.generation} refused, keeping generation ${this.gen}: ${message(err)}`;
      if (this.refusedGeneration !== snap.generation) {
        this.refusedGeneration = snap.generation;
        this.log.error('cannot use the config the config-service serves; keeping the last good config', { generation: this.gen, refused: snap.generation, err: message(err) });
      }
      return;
    }
    const previous = this.config ?? next;
    const changed = this.config ? changedPaths(previous, next) : [];
    this.boot ??= next;
    this.install(next);
    this.gen = snap.generation;
    this.dig = snap.digest;
    this.applyError = undefined;
    this.refusedGeneration = undefined;
    const before = this.restart;
    this.restart = restartRequiredFor(changedPaths(this.boot, next));
    this.log.info('config generation in force', { generation: this.gen, changed: changed.length });
    const newlyStale = this.restart.filter((p) => !before.includes(p));
    if (newlyStale.length) this.log.warn('config changed where a restart is required; running on the old values until restarted', { restartRequired: this.restart });
    const event: ConfigChangeEvent = { generation: this.gen, config: next, previous, changed, restartRequired: [...this.restart] };
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.log.error('config change listener failed', { err: message(err) });
      }
    }
  }

  private install(config: Config): void {
    this.config = config;
    resolveDatastores(config); // resolved once here, not by the first request of each datastore
    this.lastUpdate = new Date();
  }

  private markOnline(): void {
    this.lastContact = new Date();
    this.fetchError = undefined;
    if (!this.online) {
      this.online = true;
      this.log.info('config-service reachable again', { generation: this.gen });
    }
  }

  private markOffline(err: unknown): void {
    this.fetchError = message(err);
    if (this.online) {
      this.online = false;
      this.log.warn('config-service unreachable: keeping the last good config', { generation: this.gen, err: this.fetchError });
    }
  }
}
