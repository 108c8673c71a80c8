import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { Svcm, decodeJson, encodeJson, subjects, type ServiceMsg } from '@larder/bus';
import { ConfigError } from '@larder/config';
import {
  DEFAULT_CONFIG_TTL_MS,
  changedPaths,
  restartRequiredFor,
  type ConfigChange,
  type ConfigChangeResult,
  type ConfigGetReply,
  type ConfigGetRequest,
  type ConfigHistoryReply,
  type ConfigHistoryRequest,
  type ConfigSnapshot,
  type GenerationAnnouncement,
  type GenerationSource,
  type HistoryEntry,
} from '@larder/config-cache';
import { createLogger } from '@larder/telemetry';
import { NOT_YAML, editConfigText } from './edit-text.js';
import { ConfigChangeError } from './errors.js';
import { digestOf, readTextIfExists, writeFileAtomic } from './file-io.js';
import { HistoryStore, defaultHistoryDir } from './history-store.js';
import { parseConfigYaml, validateRaw, type ParsedConfig } from './parse-text.js';
import type { ConfigService, ConfigServiceOptions, ServedConfig } from './types.js';

/**
 * Start the config-service: the one writer of the config file. Serves the current generation over NATS,
 * applies CLI changes atomically (validated first; every version kept in the history folder), re-reads
 * the file every `ttlMs` to catch hand edits, and broadcasts each new generation.
 */
export async function startConfigService(opts: ConfigServiceOptions): Promise<ConfigService> {
  const log = opts.log ?? createLogger('config-service');
  const ttlMs = opts.ttlMs ?? DEFAULT_CONFIG_TTL_MS;
  const settleMs = Math.min(50, ttlMs / 4);
  const file = await realpath(opts.file).catch(() => path.resolve(opts.file));
  const source = file;
  const history = new HistoryStore(opts.historyDir ?? defaultHistoryDir(file), opts.historyLimit ?? 100);
  const subj = subjects(opts.namespace);

  // YAML parsing is the costly part (tens of ms for 1000 datastores): each text is parsed once.
  const validate = (text: string): ParsedConfig => parseConfigYaml(text, source);
  const served = (generation: number, text: string, parsed: ParsedConfig, at: string): ServedConfig => ({
    generation,
    digest: digestOf(text),
    file,
    baseDir: path.dirname(file),
    text,
    raw: parsed.raw,
    updatedAt: at,
    config: parsed.config,
  });

  // What was in force before, what the file says now.
  const state = await history.readState();
  const onDisk = await readTextIfExists(file);
  let current: ServedConfig | undefined;
  let diskError: string | undefined;
  let badDigest: string | undefined;
  const lastGood = async (why: string): Promise<ServedConfig> => {
    const kept = state ? await history.get(state.generation) : undefined;
    if (!state || !kept) throw new ConfigError(source, [{ path: '', message: `${why}, and no earlier version is kept to fall back on` }]);
    log.error('refusing the config file; serving the last good version', { generation: state.generation, err: why });
    diskError = why;
    badDigest = onDisk === undefined ? undefined : digestOf(onDisk);
    return served(state.generation, kept.text, validate(kept.text), kept.entry.at);
  };
  if (onDisk === undefined && state) {
    current = await lastGood(`${file}: file not found`);
  } else {
    const text = onDisk ?? '';
    let config: ParsedConfig | undefined;
    try {
      config = validate(text);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      current = await lastGood(err.message);
    }
    if (config) {
      const at = new Date().toISOString();
      const kept = state ? await history.get(state.generation) : undefined;
      if (state && state.digest === digestOf(text)) {
        current = served(state.generation, text, config, kept?.entry.at ?? state.at);
        if (!kept) await history.record({ generation: state.generation, digest: state.digest, at, source: 'start', changed: [], restartRequired: [] }, text);
      } else {
        // The file changed while the service was down (or this is the first start): a new generation.
        let changed: string[] = [];
        try {
          if (kept) changed = changedPaths(validate(kept.text).config, config.config);
        } catch {
          changed = [];
        }
        const generation = (state?.generation ?? 0) + 1;
        current = served(generation, text, config, at);
        await history.record({ generation, digest: current.digest, at, source: state ? 'file' : 'start', changed, restartRequired: restartRequiredFor(changed) }, text);
        await history.writeState({ generation, digest: current.digest, at });
      }
    }
  }
  if (!current) throw new Error(`config-service: no config to serve from ${file}`);
  let inForce: ServedConfig = current;

  const announce = () => {
    const a: GenerationAnnouncement = { generation: inForce.generation, digest: inForce.digest };
    opts.nc.publish(subj.configGeneration, encodeJson(a));
  };

  /** Make `text` the new generation: history first, then the file (CLI only), then the state; then broadcast. */
  const commit = async (text: string, parsed: ParsedConfig, src: GenerationSource): Promise<ConfigChangeResult> => {
    const generation = inForce.generation + 1;
    const at = new Date().toISOString();
    const changed = changedPaths(inForce.config, parsed.config);
    const next = served(generation, text, parsed, at);
    const entry: HistoryEntry = { generation, digest: next.digest, at, source: src, changed, restartRequired: restartRequiredFor(changed) };
    await history.record(entry, text);
    if (src === 'cli') await writeFileAtomic(file, text);
    await history.writeState({ generation, digest: next.digest, at });
    inForce = next;
    diskError = undefined;
    badDigest = undefined;
    log.info('new config generation', { generation, source: src, changed: changed.length, restartRequired: entry.restartRequired });
    announce();
    return { generation, digest: next.digest, unchanged: false, changed, restartRequired: entry.restartRequired };
  };

  // One operation on the file at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const run = queue.then(op, op);
    queue = run.catch(() => {});
    return run;
  };

  const checkFileNow = async (): Promise<string | undefined> => {
    let text: string | undefined;
    try {
      text = await readTextIfExists(file);
    } catch (err) {
      diskError = (err as Error).message;
      return undefined;
    }
    if (text === undefined && inForce.text === '') return '';
    if (text === undefined) {
      if (diskError !== `${file}: file not found`) log.error('the config file is gone; serving the last good version', { file, generation: inForce.generation });
      diskError = `${file}: file not found`;
      badDigest = undefined;
      return undefined;
    }
    const d = digestOf(text);
    if (d === inForce.digest) {
      if (diskError) log.info('the config file is back to the version in force', { generation: inForce.generation });
      diskError = undefined;
      badDigest = undefined;
      return text;
    }
    if (d === badDigest) return text;
    // An editor may be writing the file right now: accept it only once it reads the same twice.
    await new Promise((r) => setTimeout(r, settleMs));
    const again = await readTextIfExists(file).catch(() => undefined);
    if (again === undefined || digestOf(again) !== d) return again;
    try {
      await commit(text, validate(text), 'file');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      diskError = err.message;
      badDigest = d;
      log.error('refusing a hand edit of the config file; the last good config stays in force', { generation: inForce.generation, err: err.message });
    }
    return text;
  };

  const apply = (change: ConfigChange): Promise<ConfigChangeResult> =>
    serial(async () => {
      const disk = await checkFileNow();
      let text: string;
      let raw: Record<string, unknown> | undefined;
      if (change.op === 'replace') {
        if (typeof change.text !== 'string') throw new ConfigChangeError(400, 'replace needs the text of the whole file');
        if (change.baseGeneration !== undefined && change.baseGeneration !== inForce.generation) {
          throw new ConfigChangeError(409, `the config changed while you edited it (you started from generation ${change.baseGeneration}, now ${inForce.generation}); nothing was changed, edit again`);
        }
        text = change.text;
      } else if (change.op === 'set' || change.op === 'unset') {
        if (typeof change.path !== 'string' || (change.op === 'set' && typeof change.value !== 'string')) throw new ConfigChangeError(400, `${change.op} needs a path${change.op === 'set' ? ' and a value' : ''}`);
        // Apply on top of the file as it is (a refused hand edit included, so that no work is lost), unless it is not YAML.
        let edited;
        try {
          edited = editConfigText(disk ?? inForce.text, change);
        } catch (err) {
          if (disk === undefined || !(err instanceof ConfigChangeError) || err.cause !== NOT_YAML) throw err;
          edited = editConfigText(inForce.text, change);
        }
        ({ text, raw } = edited);
      } else {
        throw new ConfigChangeError(400, `unknown change ${JSON.stringify((change as { op?: unknown }).op)}`);
      }
      let parsed: ParsedConfig;
      try {
        parsed = raw ? validateRaw(raw, source) : validate(text);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        const note = diskError && change.op !== 'replace' ? ` (the file on disk has an edit that was refused before: ${diskError})` : '';
        throw new ConfigChangeError(400, `refused, nothing changed: ${err.message}${note}`, { cause: err });
      }
      const digest = digestOf(text);
      if (digest === inForce.digest) return { generation: inForce.generation, digest, unchanged: true, changed: [], restartRequired: [] };
      try {
        return await commit(text, parsed, 'cli');
      } catch (err) {
        throw new ConfigChangeError(500, `cannot apply the change: ${(err as Error).message}`, { cause: err });
      }
    });

  const snapshot = (): ConfigSnapshot => {
    const { config: _config, ...snap } = inForce;
    return diskError ? { ...snap, lastError: diskError } : snap;
  };

  const reply = (msg: ServiceMsg, body: unknown) => msg.respond(encodeJson(body));
  const fail = (msg: ServiceMsg, err: unknown) => {
    const code = err instanceof ConfigChangeError ? err.code : 500;
    if (code >= 500) log.error('config request failed', { err: (err as Error).message });
    msg.respondError(code, (err as Error).message);
  };
  const body = <T>(msg: ServiceMsg): T => (msg.data.byteLength ? decodeJson<T>(msg.data) : ({} as T));

  const service = await new Svcm(opts.nc).add({
    name: subj.configService,
    version: '0.1.0',
    description: 'Larder config-service: owns the config file, serves generations, applies changes',
  });
  service.addEndpoint('get', {
    subject: subj.configGet,
    handler: (err, msg) => {
      if (err) return;
      try {
        const req = body<ConfigGetRequest>(msg);
        const out: ConfigGetReply =
          req.known === inForce.generation && req.digest === inForce.digest ? { generation: inForce.generation, digest: inForce.digest, unchanged: true } : snapshot();
        reply(msg, out);
      } catch (e) {
        fail(msg, new ConfigChangeError(400, `bad get request: ${(e as Error).message}`));
      }
    },
  });
  service.addEndpoint('set', {
    subject: subj.configSet,
    handler: (err, msg) => {
      if (err) return;
      let change: ConfigChange;
      try {
        change = body<ConfigChange>(msg);
      } catch (e) {
        fail(msg, new ConfigChangeError(400, `bad set request: ${(e as Error).message}`));
        return;
      }
      apply(change).then(
        (r) => reply(msg, r),
        (e: unknown) => fail(msg, e),
      );
    },
  });
  service.addEndpoint('history', {
    subject: subj.configHistory,
    handler: (err, msg) => {
      if (err) return;
      void (async () => {
        try {
          const req = body<ConfigHistoryRequest>(msg);
          if (req.generation === undefined) {
            reply(msg, { entries: await history.list() } satisfies ConfigHistoryReply);
            return;
          }
          const one = await history.get(req.generation);
          if (!one) throw new ConfigChangeError(404, `generation ${req.generation} is not kept`);
          reply(msg, one satisfies ConfigHistoryReply);
        } catch (e) {
          fail(msg, e);
        }
      })();
    },
  });

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    timer = setTimeout(() => {
      void serial(checkFileNow)
        .catch((err: Error) => log.error('cannot check the config file', { err: err.message }))
        .finally(() => {
          if (!stopped) tick();
        });
    }, ttlMs);
    timer.unref();
  };
  tick();
  announce();
  log.info('config-service serving', { file, generation: inForce.generation, namespace: opts.namespace });

  return {
    get generation() {
      return inForce.generation;
    },
    file,
    historyDir: history.dir,
    snapshot,
    lastError: () => diskError,
    checkFile: () => serial(checkFileNow).then(() => {}),
    apply,
    history: () => history.list(),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await queue;
      await service.stop().catch(() => {});
    },
  };
}
