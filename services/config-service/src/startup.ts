import { ConfigError, parseConfigDocument, type ParsedConfigText } from '@larder/config';
import { changedPaths, restartRequiredFor } from '@larder/config-cache';
import type { Logger } from '@larder/telemetry';
import { digestOf, readTextIfExists } from './file-io.js';
import type { HistoryStore } from './history-store.js';
import { servedConfig } from './served.js';
import type { ServedConfig } from './types.js';

/** What the config-service starts with: the generation in force and, when the file on disk is not it, why. */
export interface StartupState {
  inForce: ServedConfig;
  /** Why the file on disk is not in force (invalid or gone). */
  diskError?: string;
  /** Digest of the refused file on disk, so that it is not refused again at every check. */
  badDigest?: string;
}

/**
 * Decide the generation in force at start from the file and the history: the file's version (a new generation
 * when it changed while the service was down, or on a first start), else the last good kept version.
 */
export async function startupState(file: string, history: HistoryStore, log: Logger): Promise<StartupState> {
  const state = await history.readState();
  const onDisk = await readTextIfExists(file);
  const lastGood = async (why: string): Promise<StartupState> => {
    const kept = state ? await history.get(state.generation) : undefined;
    if (!state || !kept) throw new ConfigError(file, [{ path: '', message: `${why}, and no earlier version is kept to fall back on` }]);
    log.error('refusing the config file; serving the last good version', { generation: state.generation, err: why });
    const inForce = servedConfig(file, state.generation, kept.text, parseConfigDocument(kept.text, file), kept.entry.at);
    return { inForce, diskError: why, ...(onDisk === undefined ? {} : { badDigest: digestOf(onDisk) }) };
  };
  if (onDisk === undefined && state) return lastGood(`${file}: file not found`);
  const text = onDisk ?? '';
  let parsed: ParsedConfigText;
  try {
    parsed = parseConfigDocument(text, file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return lastGood(err.message);
  }
  const at = new Date().toISOString();
  const kept = state ? await history.get(state.generation) : undefined;
  if (state && state.digest === digestOf(text)) {
    const inForce = servedConfig(file, state.generation, text, parsed, kept?.entry.at ?? state.at);
    if (!kept) await history.record({ generation: state.generation, digest: state.digest, at, source: 'start', changed: [], restartRequired: [] }, text);
    return { inForce };
  }
  // The file changed while the service was down (or this is the first start): a new generation.
  let changed: string[] = [];
  try {
    if (kept) changed = changedPaths(parseConfigDocument(kept.text, file).config, parsed.config);
  } catch {
    changed = [];
  }
  const generation = (state?.generation ?? 0) + 1;
  const inForce = servedConfig(file, generation, text, parsed, at);
  await history.record({ generation, digest: inForce.digest, at, source: state ? 'file' : 'start', changed, restartRequired: restartRequiredFor(changed) }, text);
  await history.writeState({ generation, digest: inForce.digest, at });
  return { inForce };
}
