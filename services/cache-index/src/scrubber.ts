import { closeSync, fstatSync } from 'node:fs';
import { resolveDatastore, type Config } from '@larder/config';
import type { ChunkIndex } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import { ScrubLoop, parseChunkKey, quarantineChunk, verifyChunkFile, type Volume } from '@larder/volume';

const log = createLogger('cache-index');

/** A chunk file the scrubber found bad and quarantined. */
export interface ScrubFinding {
  key: string;
  path: string;
  reason: string;
  atMs: number;
}

/** What the scrubber has done: shown as `scrub` in the cache-index's status and `/v1/status`. */
export interface ScrubStatus {
  /** `volume.scrubRate` now, bytes per second (0: off). */
  rateBytesPerSec: number;
  /** Passes over the whole volume completed since start. */
  passes: number;
  /** When the pass under way began (null between passes). */
  passStartedAtMs: number | null;
  /** Chunks and bytes checked in the pass under way (or the last one, between passes). */
  passChunks: number;
  passBytes: number;
  lastPassEndedAtMs: number | null;
  /** Chunks and bytes checked since start. */
  totalChunks: number;
  totalBytes: number;
  /** Chunk files that failed and were quarantined since start. */
  quarantined: number;
  /** The last few of them (newest last). */
  findings: ScrubFinding[];
}

/** What one pass checked and found. */
export interface ScrubReport {
  chunks: number;
  bytes: number;
  quarantined: number;
}

/**
 * Re-verifies the chunk files on the volume in the background at `volume.scrubRate` bytes per second (decoding and
 * hashing each, as the chunk-fetcher checked it before writing it), one pass after another, and quarantines what
 * fails (removed from volume and index, counted, logged with its path): the next read of such a chunk fetches it
 * again. It finds the bit rot that the readers' checks (once per file and process, then by the file's identity)
 * cannot see: damage below the file system that leaves the file's metadata as it was.
 */
export class Scrubber {
  private readonly loop = new ScrubLoop({
    enabled: () => this.rate() > 0,
    pass: () => this.pass(() => this.rate()),
    onError: (err) => log.warn('scrub pass failed', { err }),
  });
  private readonly state: ScrubStatus = {
    rateBytesPerSec: 0,
    passes: 0,
    passStartedAtMs: null,
    passChunks: 0,
    passBytes: 0,
    lastPassEndedAtMs: null,
    totalChunks: 0,
    totalBytes: 0,
    quarantined: 0,
    findings: [],
  };

  constructor(private readonly deps: { config: () => Config; index: ChunkIndex; volume: Volume }) {}

  get status(): ScrubStatus {
    return { ...this.state, rateBytesPerSec: this.rate(), findings: [...this.state.findings] };
  }

  /** Run passes in the background until {@link stop}. */
  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One whole pass now, at `rate` bytes per second (default: as fast as it goes). */
  scrub(rate = Infinity): Promise<ScrubReport> {
    return this.pass(() => rate);
  }

  private rate(): number {
    return this.deps.config().volume.scrubRate;
  }

  /** Check every chunk file once, paced to `rate()` bytes per second (a rate of 0 ends the pass). */
  private async pass(rate: () => number): Promise<ScrubReport> {
    const s = this.state;
    const report: ScrubReport = { chunks: 0, bytes: 0, quarantined: 0 };
    const t0 = Date.now();
    s.passStartedAtMs = t0;
    s.passChunks = 0;
    s.passBytes = 0;
    let paced = 0; // bytes since the pace was last set
    let paceStart = t0;
    let lastRate = rate();
    for await (const f of this.deps.volume.listChunks()) {
      const r = rate();
      if (this.loop.stopped || r <= 0) break;
      if (r !== lastRate) [paced, paceStart, lastRate] = [0, Date.now(), r];
      const bytes = f.size;
      await this.check(f.key, report);
      report.chunks++;
      report.bytes += bytes;
      s.passChunks++;
      s.passBytes += bytes;
      s.totalChunks++;
      s.totalBytes += bytes;
      paced += bytes;
      if (Number.isFinite(r)) {
        const ahead = paceStart + (paced / r) * 1000 - Date.now();
        if (ahead > 0) await this.loop.sleep(ahead);
      }
    }
    s.passStartedAtMs = null;
    s.lastPassEndedAtMs = Date.now();
    if (!this.loop.stopped) s.passes++;
    if (report.quarantined > 0) log.warn('scrub pass quarantined chunk files', { ...report, ms: Date.now() - t0 });
    return report;
  }

  /** Verify one chunk file; quarantine it when it fails. */
  private async check(key: string, report: ScrubReport): Promise<void> {
    const { volume, index, config } = this.deps;
    const parsed = parseChunkKey(key);
    const ds = parsed && resolveDatastore(config(), parsed.store);
    if (!parsed || !ds) return; // a datastore no longer configured: nothing to check it against
    const fd = volume.openChunkSync(parsed.store, parsed.digest);
    if (fd === undefined) return; // evicted since the listing
    try {
      const verdict = await verifyChunkFile(fd, parsed.digest, { layout: ds.layout, digest: ds.digest });
      if (verdict.ok) return;
      const result = await quarantineChunk(volume, index, parsed.store, parsed.digest, fstatSync(fd));
      if (result.removed) {
        report.quarantined++;
        this.state.quarantined++;
        this.state.findings.push({ key, path: result.path, reason: verdict.reason, atMs: Date.now() });
        if (this.state.findings.length > 20) this.state.findings.shift();
        log.error('scrubber: chunk file failed verification: quarantined (removed from volume and index)', {
          key,
          path: result.path,
          reason: verdict.reason,
          indexError: result.indexError,
        });
      }
    } finally {
      closeSync(fd);
    }
  }
}
