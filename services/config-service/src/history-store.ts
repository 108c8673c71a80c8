import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { HistoryEntry } from '@larder/config-cache';
import { readTextIfExists, writeFileAtomic } from './file-io.js';
import type { GenerationState } from './types.js';

const STATE = 'state.json';

function baseName(generation: number): string {
  return String(generation).padStart(8, '0');
}

/** Default history folder of a config file: `<dir>/.larder/config-history/<file name>`. */
export function defaultHistoryDir(file: string): string {
  return path.join(path.dirname(file), '.larder', 'config-history', path.basename(file));
}

/** Kept versions of the config file (`<generation>.yaml` + `<generation>.json`) and the generation state (`state.json`). */
export class HistoryStore {
  constructor(
    readonly dir: string,
    private readonly limit = 100,
  ) {}

  /** The generation last in force, if any was recorded. */
  async readState(): Promise<GenerationState | undefined> {
    const text = await readTextIfExists(path.join(this.dir, STATE));
    if (text === undefined) return undefined;
    try {
      const s = JSON.parse(text) as GenerationState;
      return Number.isSafeInteger(s.generation) && typeof s.digest === 'string' ? s : undefined;
    } catch {
      return undefined;
    }
  }

  /** Record the generation in force. */
  async writeState(state: GenerationState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path.join(this.dir, STATE), `${JSON.stringify(state)}\n`);
  }

  /** Keep a version: its text and what it changed; drops the oldest beyond the limit. */
  async record(entry: HistoryEntry, text: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // Kept versions are a record, not the source of truth: no fsync (the config file and the state are synced).
    await writeFileAtomic(path.join(this.dir, `${baseName(entry.generation)}.yaml`), text, { sync: false });
    await writeFileAtomic(path.join(this.dir, `${baseName(entry.generation)}.json`), `${JSON.stringify(entry)}\n`, { sync: false });
    const gens = await this.generations();
    for (const g of gens.slice(0, Math.max(0, gens.length - this.limit))) {
      await rm(path.join(this.dir, `${baseName(g)}.yaml`), { force: true });
      await rm(path.join(this.dir, `${baseName(g)}.json`), { force: true });
    }
  }

  /** One kept version with its text, or undefined. */
  async get(generation: number): Promise<{ entry: HistoryEntry; text: string } | undefined> {
    const meta = await readTextIfExists(path.join(this.dir, `${baseName(generation)}.json`));
    const text = await readTextIfExists(path.join(this.dir, `${baseName(generation)}.yaml`));
    if (meta === undefined || text === undefined) return undefined;
    return { entry: JSON.parse(meta) as HistoryEntry, text };
  }

  /** The generation last in force and its kept text, if both are there. */
  async lastInForce(): Promise<{ state: GenerationState; text: string } | undefined> {
    const state = await this.readState();
    const text = state ? await readTextIfExists(path.join(this.dir, `${baseName(state.generation)}.yaml`)) : undefined;
    return state && text !== undefined ? { state, text } : undefined;
  }

  /** Every kept version, oldest first. */
  async list(): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    for (const g of await this.generations()) {
      const meta = await readTextIfExists(path.join(this.dir, `${baseName(g)}.json`));
      if (meta !== undefined) out.push(JSON.parse(meta) as HistoryEntry);
    }
    return out;
  }

  private async generations(): Promise<number[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names
      .map((n) => /^(\d{8,})\.json$/.exec(n)?.[1])
      .filter((g): g is string => g !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }
}
