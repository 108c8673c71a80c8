import { ConfigError, hasFullAdmin, parseConfig, parseConfigDocument, redactConfig, redactConfigText, restoreRedactedText, type ParsedConfigText } from '@larder/config';
import {
  changedPaths,
  restartRequiredFor,
  type ConfigChange,
  type ConfigChangeResult,
  type ConfigGetReply,
  type ConfigGetRequest,
  type ConfigSnapshot,
  type GenerationAnnouncement,
  type GenerationSource,
  type HistoryEntry,
} from '@larder/config-cache';
import type { Logger } from '@larder/telemetry';
import { NOT_YAML, editConfigText } from './edit-text.js';
import { ConfigChangeError } from './errors.js';
import { digestOf, readTextIfExists, writeFileAtomic } from './file-io.js';
import type { HistoryStore } from './history-store.js';
import { SerialQueue } from './serial-queue.js';
import { servedConfig } from './served.js';
import type { StartupState } from './startup.js';
import type { ServedConfig } from './types.js';

/** What a {@link ConfigOwner} works with. */
export interface ConfigOwnerDeps {
  /** The config file (real path). */
  file: string;
  history: HistoryStore;
  log: Logger;
  /** Broadcast a new generation. */
  announce(a: GenerationAnnouncement): void;
  /** How long a changed file must stay the same before it is read as a hand edit (ms). */
  settleMs: number;
  /** Whether the file's tokens are the ones config changes are checked against (not LARDER_TOKENS): then a change may not drop the last admin token. */
  fileTokensGuard: boolean;
}

/**
 * The state of the config-service: the generation in force and what is wrong with the file on disk, changed only
 * by one operation at a time (a file check or a change), each of which commits a new generation through the history.
 */
export class ConfigOwner {
  private inForce: ServedConfig;
  /** Why the file on disk is not in force (a refused hand edit, a missing file). */
  private diskError: string | undefined;
  /** Digest of a refused file on disk, so that it is not refused again at every check. */
  private badDigest: string | undefined;
  private readonly queue = new SerialQueue();

  constructor(
    private readonly deps: ConfigOwnerDeps,
    start: StartupState,
  ) {
    this.inForce = start.inForce;
    this.diskError = start.diskError;
    this.badDigest = start.badDigest;
  }

  get generation(): number {
    return this.inForce.generation;
  }

  /** Why the file on disk is not in force, if it is not. */
  lastError(): string | undefined {
    return this.diskError;
  }

  /** The generation in force as served (with `lastError` while the file on disk is refused). */
  snapshot(): ConfigSnapshot {
    const { config: _config, ...snap } = this.inForce;
    return this.diskError ? { ...snap, lastError: this.diskError } : snap;
  }

  /** The answer to a get: short when the asker names the generation in force; secrets redacted unless `secrets`. */
  get(req: ConfigGetRequest, secrets = false): ConfigGetReply {
    const { generation, digest } = this.inForce;
    if (req.known === generation && req.digest === digest) return { generation, digest, unchanged: true };
    const snap = this.snapshot();
    return secrets ? snap : { ...snap, text: redactConfigText(snap.text), raw: redactConfig(snap.raw) };
  }

  /** The tokens of the config in force (the file's). */
  tokens() {
    return this.inForce.config.tokens;
  }

  /** Broadcast the generation in force. */
  announce(): void {
    this.deps.announce({ generation: this.inForce.generation, digest: this.inForce.digest });
  }

  /** Re-read the file (after the operations queued before) and make a valid hand edit the new generation. */
  checkFile(): Promise<void> {
    return this.queue.run(() => this.checkFileNow()).then(() => {});
  }

  /** Apply a change as the CLI asks it (after the operations queued before), by the token named `who`; throws ConfigChangeError. */
  apply(change: ConfigChange, who?: string): Promise<ConfigChangeResult> {
    return this.queue.run(() => this.applyNow(change, who));
  }

  /** Settles when the operations queued so far are done. */
  idle(): Promise<unknown> {
    return this.queue.idle();
  }

  /** Make `text` the new generation: history first, then the file (CLI only), then the state; then broadcast. */
  private async commit(text: string, parsed: ParsedConfigText, src: GenerationSource, who?: string): Promise<ConfigChangeResult> {
    const { file, history, log } = this.deps;
    const generation = this.inForce.generation + 1;
    const at = new Date().toISOString();
    const changed = changedPaths(this.inForce.config, parsed.config);
    const next = servedConfig(file, generation, text, parsed, at);
    const entry: HistoryEntry = { generation, digest: next.digest, at, source: src, changed, restartRequired: restartRequiredFor(changed) };
    await history.record(entry, text);
    if (src === 'cli') await writeFileAtomic(file, text);
    await history.writeState({ generation, digest: next.digest, at });
    this.inForce = next;
    this.diskError = undefined;
    this.badDigest = undefined;
    log.info('new config generation', { generation, source: src, changed: changed.length, restartRequired: entry.restartRequired, ...(who ? { by: who } : {}) });
    this.announce();
    return { generation, digest: next.digest, unchanged: false, changed, restartRequired: entry.restartRequired };
  }

  /** The file's text as it is now (undefined when it cannot be read or is gone), committing it when it is a valid hand edit. */
  private async checkFileNow(): Promise<string | undefined> {
    const { file, log } = this.deps;
    let text: string | undefined;
    try {
      text = await readTextIfExists(file);
    } catch (err) {
      this.diskError = (err as Error).message;
      return undefined;
    }
    if (text === undefined && this.inForce.text === '') return '';
    if (text === undefined) {
      if (this.diskError !== `${file}: file not found`) log.error('the config file is gone; serving the last good version', { file, generation: this.inForce.generation });
      this.diskError = `${file}: file not found`;
      this.badDigest = undefined;
      return undefined;
    }
    const d = digestOf(text);
    if (d === this.inForce.digest) {
      if (this.diskError) log.info('the config file is back to the version in force', { generation: this.inForce.generation });
      this.diskError = undefined;
      this.badDigest = undefined;
      return text;
    }
    if (d === this.badDigest) return text;
    // An editor may be writing the file right now: accept it only once it reads the same twice.
    await new Promise((r) => setTimeout(r, this.deps.settleMs));
    const again = await readTextIfExists(file).catch(() => undefined);
    if (again === undefined || digestOf(again) !== d) return again;
    try {
      await this.commit(text, parseConfigDocument(text, file), 'file');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.diskError = err.message;
      this.badDigest = d;
      log.error('refusing a hand edit of the config file; the last good config stays in force', { generation: this.inForce.generation, err: err.message });
    }
    return text;
  }

  private async applyNow(change: ConfigChange, who?: string): Promise<ConfigChangeResult> {
    const disk = await this.checkFileNow();
    let text: string;
    let raw: Record<string, unknown> | undefined;
    if (change.op === 'replace') {
      if (typeof change.text !== 'string') throw new ConfigChangeError(400, 'replace needs the text of the whole file');
      if (change.baseGeneration !== undefined && change.baseGeneration !== this.inForce.generation) {
        throw new ConfigChangeError(
          409,
          `the config changed while you edited it (you started from generation ${change.baseGeneration}, now ${this.inForce.generation}); nothing was changed, edit again`,
        );
      }
      text = change.text;
    } else if (change.op === 'set' || change.op === 'unset') {
      if (typeof change.path !== 'string' || (change.op === 'set' && typeof change.value !== 'string'))
        throw new ConfigChangeError(400, `${change.op} needs a path${change.op === 'set' ? ' and a value' : ''}`);
      // Apply on top of the file as it is (a refused hand edit included, so that no work is lost), unless it is not YAML.
      let edited;
      try {
        edited = editConfigText(disk ?? this.inForce.text, change);
      } catch (err) {
        if (disk === undefined || !(err instanceof ConfigChangeError) || err.cause !== NOT_YAML) throw err;
        edited = editConfigText(this.inForce.text, change);
      }
      ({ text, raw } = edited);
    } else {
      throw new ConfigChangeError(400, `unknown change ${JSON.stringify((change as { op?: unknown }).op)}`);
    }
    // A config edited from its redacted text (`larder config edit`) keeps the secrets in force.
    const restored = restoreRedactedText(text, this.inForce.raw);
    if (restored.missing.length) {
      throw new ConfigChangeError(
        400,
        `refused, nothing changed: ${restored.missing.join(', ')} ${restored.missing.length === 1 ? 'is' : 'are'} <redacted> and not in the config in force: write the secret itself`,
      );
    }
    if (restored.text !== text) {
      text = restored.text;
      raw = undefined;
    }
    let parsed: ParsedConfigText;
    try {
      parsed = raw ? { raw, config: parseConfig(raw, this.deps.file) } : parseConfigDocument(text, this.deps.file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const note = this.diskError && change.op !== 'replace' ? ` (the file on disk has an edit that was refused before: ${this.diskError})` : '';
      throw new ConfigChangeError(400, `refused, nothing changed: ${err.message}${note}`, { cause: err });
    }
    if (this.deps.fileTokensGuard && hasFullAdmin(this.inForce.config.tokens) && !hasFullAdmin(parsed.config.tokens)) {
      throw new ConfigChangeError(
        400,
        "refused, nothing changed: the change would leave no admin token for every datastore (scope admin, datastores ['*']), and nobody could change the config over NATS any more; to turn access control off, edit the file by hand",
      );
    }
    const digest = digestOf(text);
    if (digest === this.inForce.digest) return { generation: this.inForce.generation, digest, unchanged: true, changed: [], restartRequired: [] };
    try {
      return await this.commit(text, parsed, 'cli', who);
    } catch (err) {
      throw new ConfigChangeError(500, `cannot apply the change: ${(err as Error).message}`, { cause: err });
    }
  }
}
