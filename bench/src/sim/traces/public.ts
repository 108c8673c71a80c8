import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { Boundaries, type ChunkingKind, ImageSpace } from '../chunking.js';
import { type Trace, TraceBuilder } from '../trace.js';

/** A block I/O trace on disk and how to read it. */
export interface PublicTraceFile {
  path: string;
  /** `cloudphysics`: CSV `version,time,op,size,lbn` (lbn in 512-byte sectors); `msr`: MSR Cambridge CSV. */
  format: 'cloudphysics' | 'msr';
  /** Short name for the report. */
  name: string;
  /** Where it comes from and under which terms, for the report. */
  source: string;
}

/**
 * The public trace `pnpm sim --fetch` downloads: the CloudPhysics block I/O sample (113,872 requests of one VM disk,
 * a week in 2015) that libCacheSim ships in its repository. It is not committed here: its licence terms for
 * redistribution are not stated anywhere we could find, so it is fetched from its home, pinned to a commit.
 */
export const CLOUDPHYSICS_SAMPLE = {
  url: 'https://raw.githubusercontent.com/1a1a11a/libCacheSim/aa0fc40914b2b786f4b9f4dafb099f8f332b216a/data/cloudPhysicsIO.csv',
  bytes: 3_116_791,
  name: 'cloudphysics',
  source:
    'CloudPhysics VM block trace sample (Waldspurger et al., FAST 2015 SHARDS traces), as shipped in libCacheSim (github.com/1a1a11a/libCacheSim, data/cloudPhysicsIO.csv); fetched, not committed',
} as const;

/** Download the CloudPhysics sample to `path` (atomically); a no-op if it is there already. */
export async function fetchCloudPhysics(path: string): Promise<void> {
  if (existsSync(path)) return;
  const res = await fetch(CLOUDPHYSICS_SAMPLE.url, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`GET ${CLOUDPHYSICS_SAMPLE.url}: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (body.byteLength !== CLOUDPHYSICS_SAMPLE.bytes) throw new Error(`${basename(path)}: expected ${CLOUDPHYSICS_SAMPLE.bytes} bytes, got ${body.byteLength}`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.part`, body);
  await rename(`${path}.part`, path);
}

/** One request of a block trace: which disk, and which bytes. */
interface BlockRequest {
  disk: string;
  offset: number;
  length: number;
}

function parseLine(format: PublicTraceFile['format'], line: string): BlockRequest | undefined {
  const f = line.split(',');
  if (format === 'cloudphysics') {
    // version,time,op,size,lbn — the header line fails the number checks.
    const size = Number(f[3]);
    const lbn = Number(f[4]);
    if (f.length < 5 || !Number.isFinite(size) || !Number.isFinite(lbn)) return undefined;
    return { disk: 'vm', offset: lbn * 512, length: size };
  }
  // Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime
  const offset = Number(f[4]);
  const size = Number(f[5]);
  if (f.length < 6 || !Number.isFinite(offset) || !Number.isFinite(size)) return undefined;
  return { disk: `${f[1]}:${f[2]}`, offset, length: size };
}

/**
 * Replay a block trace as chunk references: each disk is a lineage of its own (no dedup between disks), cut into
 * chunks as `chunking` says; reads and writes both count (the trace's address stream, as cache studies replay it).
 */
export async function publicTrace(file: PublicTraceFile, chunking: ChunkingKind): Promise<Trace> {
  const out = new TraceBuilder();
  const disks = new Map<string, ImageSpace>();
  const input = createReadStream(file.path);
  const lines = createInterface({ input: file.path.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
  let requests = 0;
  for await (const line of lines) {
    const req = parseLine(file.format, line);
    if (!req || req.length <= 0) continue;
    let disk = disks.get(req.disk);
    if (!disk) {
      const id = 10_000 + disks.size;
      disk = new ImageSpace(id, new Boundaries(chunking, id), id, Number.MAX_SAFE_INTEGER);
      disks.set(req.disk, disk);
    }
    out.read(disk.id, disk, req.offset, req.length);
    requests++;
  }
  if (requests === 0) throw new Error(`${file.path}: no requests in ${file.format} format`);
  return out.build(file.name, chunking, `${file.source}; ${requests.toLocaleString('en')} requests, ${disks.size} disk(s)`);
}
