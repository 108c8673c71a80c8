import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { encodeJson, subjects } from '@larder/bus';
import { DEFAULT_CONFIG_TTL_MS } from '@larder/config';
import { createLogger } from '@larder/telemetry';
import { tokenSource } from './caller.js';
import { ConfigOwner } from './config-owner.js';
import { serveEndpoints } from './endpoints.js';
import { HistoryStore, defaultHistoryDir } from './history-store.js';
import { startupState } from './startup.js';
import type { ConfigService, ConfigServiceOptions } from './types.js';

/**
 * Start the config-service: the one writer of the config file. Serves the current generation over NATS,
 * applies CLI changes atomically (validated first; every version kept in the history folder), re-reads
 * the file every `ttlMs` to catch hand edits, and broadcasts each new generation.
 */
export async function startConfigService(opts: ConfigServiceOptions): Promise<ConfigService> {
  const log = opts.log ?? createLogger('config-service');
  const ttlMs = opts.ttlMs ?? DEFAULT_CONFIG_TTL_MS;
  const file = await realpath(opts.file).catch(() => path.resolve(opts.file));
  const history = new HistoryStore(opts.historyDir ?? defaultHistoryDir(file), opts.historyLimit ?? 100);
  const subj = subjects(opts.namespace);
  const tokensOf = tokenSource(opts.env);
  const fileTokens = tokensOf([]).length === 0;
  const owner = new ConfigOwner(
    {
      file,
      history,
      log,
      settleMs: Math.min(50, ttlMs / 4),
      announce: (a) => opts.nc.publish(subj.configGeneration, encodeJson(a)),
      fileTokensGuard: fileTokens,
    },
    await startupState(file, history, log),
  );
  const service = await serveEndpoints(opts.nc, opts.namespace, owner, history, log, () => tokensOf(owner.tokens()));
  // Requests sent right after start find the endpoints subscribed (else one from another connection may find no
  // responders), as in every service of the node.
  await opts.nc.flush();
  if (tokensOf(owner.tokens()).length === 0) log.warn('no tokens configured: anyone on NATS may change the config (secrets are still served redacted)');

  // The TTL: re-read the file to catch hand edits.
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    timer = setTimeout(() => {
      void owner
        .checkFile()
        .catch((err: Error) => log.error('cannot check the config file', { err: err.message }))
        .finally(() => {
          if (!stopped) tick();
        });
    }, ttlMs);
    timer.unref();
  };
  tick();
  owner.announce();
  log.info('config-service serving', { file, generation: owner.generation, namespace: opts.namespace });

  return {
    get generation() {
      return owner.generation;
    },
    file,
    historyDir: history.dir,
    snapshot: () => owner.snapshot(),
    lastError: () => owner.lastError(),
    checkFile: () => owner.checkFile(),
    apply: (change) => owner.apply(change),
    history: () => history.list(),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await owner.idle();
      await service.stop().catch(() => {});
    },
  };
}
