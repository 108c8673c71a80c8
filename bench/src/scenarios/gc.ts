import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import type { GcPhase, GcReport } from '@larder/bus';
import { parseConfig, resolveDatastore, type ResolvedDatastore } from '@larder/config';
import { writeFixedIndex } from '@larder/formats';
import { createGcEngine, DigestFileWriter, DigestSet } from '@larder/gc-worker';
import { chunkObjectKey, destroyS3Clients, indexObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { startEmbeddedS3Process } from '@larder/s3-server';
import { connectNodeDeps } from '@larder/service-kit';
import { fig, OutcomeBuilder } from '../outcome.js';
import { runPool } from '../pool.js';
import type { Scenario } from '../types.js';

const BUCKET = 'gc-bench';
const STORE = 'owned';
const HOUR = 3600_000;
/** Share of the chunks no index references; of those, this share is younger than the grace (kept). */
const GARBAGE = 0.2;
const FRESH = 0.1;
/** Digests per index; consecutive indexes share all but the first `stride` of them. */
const PER_INDEX_FULL = 1000;
/** md5 of the empty body: s3rver keeps it beside the object (`<key>._S3rver_object.md5`). */
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/** Peak RSS (VmHWM) since the last reset, bytes; `resetPeak` starts a new peak (Linux ≥ 4.0, /proc/self/clear_refs). */
async function peakRss(): Promise<number> {
  const m = /VmHWM:\s+(\d+) kB/.exec(await readFile('/proc/self/status', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}
async function resetPeak(): Promise<boolean> {
  return writeFile('/proc/self/clear_refs', '5').then(
    () => true,
    () => false,
  );
}

/** Bytes of the files in `dir` (one level deep: the digest runs and the merged file). */
async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) n += (await stat(path.join(dir, f)).catch(() => undefined))?.size ?? 0;
  return n;
}

/** Phase start times of a GC run, from its progress reports. */
function phaseClock(): { onProgress: (r: GcReport) => void; span(from: GcPhase, to: GcPhase): number } {
  const at = new Map<GcPhase, number>();
  return {
    onProgress: (r) => void (at.has(r.phase) || at.set(r.phase, performance.now())),
    span: (from, to) => (at.get(to) ?? NaN) - (at.get(from) ?? NaN),
  };
}

/** GC scenario: mark and sweep of an owned pbs datastore through the engine, and the mark's digest file alone at 10 M. */
export const gc: Scenario = {
  name: 'gc',
  title: 'GC: mark and sweep of an owned datastore; the mark alone on 10 million digests',
  description:
    'An owned pbs datastore in the embedded S3 (own process): 200,000 chunk objects (20,000 with --quick), 2,000 .fidx indexes ' +
    '(200) of overlapping chunk windows (each shares 90% with the previous), 20% of the chunks unreferenced (of those 90% past ' +
    'the grace). A dry run and an applied run of the GC engine (shared Redis and NATS, own namespace): mark and sweep times, ' +
    'peak RSS of this process during the run, S3 LIST and DeleteObjects requests counted at the server, beside the expected ' +
    'one per 1,000 keys. Then DigestFileWriter alone on 10 million random digests (1 million): time, peak RSS, peak disk.',
  needs: [],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const chunks = ctx.quick ? 20_000 : 200_000;
    const indexes = ctx.quick ? 200 : 2_000;
    const markDigests = ctx.quick ? 1_000_000 : 10_000_000;
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(1))
        .join(' ');
    out.note(`load average at start: ${load()} (2 shared cores)`);
    const peakResets = await resetPeak();
    if (!peakResets) out.note('/proc/self/clear_refs not writable: peak RSS is the whole process lifetime');

    const dir = path.join(ctx.workDir, 'gc');
    const s3Dir = path.join(dir, 's3');
    await mkdir(dir, { recursive: true });
    const s3 = await startEmbeddedS3Process({ directory: s3Dir, port: 0, buckets: [BUCKET] });
    const ns = `bgc${randomBytes(4).toString('hex')}`;
    const config = parseConfig({
      namespace: ns,
      capacity: 1 << 30,
      volume: { path: path.join(dir, 'volume'), fsync: false },
      redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
      s3: { endpoint: s3.endpoint, pathStyle: true },
      // s3rver deletes a key in ~5–50 ms (files and folders): a 1,000-key DeleteObjects may take a minute on a busy machine.
      fetcher: { timeout: '180s', retries: 3, backoff: '100ms' },
      gc: { grace: '1h', workDir: path.join(dir, 'work') },
      datastores: { [STORE]: { layout: 'pbs', bucket: BUCKET, prefix: STORE, owned: true } },
    });
    const ds = resolveDatastore(config, STORE) as ResolvedDatastore;
    const deps = await connectNodeDeps(config, 'bench-gc');
    try {
      // Synthetic digests; the chunk objects are empty files written straight into s3rver's store (object + its md5
      // file, LastModified = mtime): the GC only lists and deletes them, and 200,000 PUTs would take s3rver minutes.
      ctx.log(`gc: writing ${chunks} chunk objects and ${indexes} indexes`);
      const digests = Array.from({ length: chunks }, () => randomBytes(32).toString('hex'));
      const referencedCount = Math.round(chunks * (1 - GARBAGE));
      const garbage = chunks - referencedCount;
      const fresh = Math.round(garbage * FRESH);
      const old = new Date(Date.now() - 2 * HOUR);
      const dirs = new Set(digests.map((d) => path.dirname(path.join(s3Dir, BUCKET, chunkObjectKey(ds, d)))));
      const dirList = [...dirs];
      await runPool(dirList.length, 16, async (i) => void (await mkdir(dirList[i] as string, { recursive: true })));
      const t0 = performance.now();
      await runPool(chunks, 32, async (i) => {
        const file = path.join(s3Dir, BUCKET, `${chunkObjectKey(ds, digests[i] as string)}._S3rver_object`);
        await (await open(file, 'w')).close();
        await writeFile(`${file}.md5`, EMPTY_MD5);
        // The last `fresh` chunks are young (kept by the grace); all others are past it.
        if (i < chunks - fresh) await utimes(file, old, old);
      });
      ctx.log(`gc: chunk objects written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const perIndex = Math.min(PER_INDEX_FULL, referencedCount);
      const client = s3ClientFor(ds);
      let references = 0;
      await runPool(indexes, 8, async (i) => {
        const start = Math.round((i * (referencedCount - perIndex)) / Math.max(1, indexes - 1));
        const raw = digests.slice(start, start + perIndex).map((h) => Buffer.from(h, 'hex'));
        references += raw.length;
        const bytes = writeFixedIndex({ size: raw.length * 4096, chunkSize: 4096, digests: raw });
        await putObjectBytes(client, BUCKET, indexObjectKey(ds, `vm/${100 + (i % 20)}/snap-${String(i).padStart(5, '0')}/drive-scsi0.img.fidx`), bytes);
      });
      // The touch record has existed for longer than the grace (as on a store that has been written through Larder).
      await deps.redis.set(`{${ns}}:gc:epoch:${STORE}`, String(Date.now() - 2 * HOUR));
      const engine = createGcEngine({ ...deps, config: () => config });
      const candidates = garbage - fresh;
      const listPagesChunks = Math.ceil(chunks / 1000);
      const listPagesIndexes = Math.ceil(indexes / 1000);

      for (const apply of [false, true]) {
        ctx.log(`gc: ${apply ? 'applied' : 'dry'} run (load ${load()})`);
        await s3.resetStats();
        await resetPeak();
        const clock = phaseClock();
        const t = performance.now();
        const report = await engine.runDatastore(ds, { runId: randomUUID(), apply, signal: new AbortController().signal, onProgress: clock.onProgress });
        const total = performance.now() - t;
        const rss = await peakRss();
        const st = await s3.stats();
        if (report.phase !== 'done') throw new Error(`GC ${apply ? 'applied' : 'dry'} run ended ${report.phase}: ${report.error ?? report.s3Skipped ?? ''}`);
        if (report.s3Chunks !== candidates || report.keptByGrace !== fresh || report.referenced !== referencedCount)
          throw new Error(
            `GC counted ${report.s3Chunks} deletable, ${report.keptByGrace} kept by grace, ${report.referenced} referenced; expected ${candidates}, ${fresh}, ${referencedCount}`,
          );
        // Expected requests: one LIST page per 1,000 keys (indexes, chunks; the applied run's verify lists both again,
        // the chunks after the deletes), one DeleteObjects per 1,000 deletes.
        const expLists = listPagesIndexes + listPagesChunks + (apply ? listPagesIndexes + Math.ceil((chunks - candidates) / 1000) : 0);
        const expDeletes = apply ? Math.ceil(candidates / 1000) : 0;
        out.row({
          case: `${chunks.toLocaleString('en')} chunks, ${indexes.toLocaleString('en')} indexes`,
          system: `GC engine, ${apply ? 'applied' : 'dry run'}`,
          link: 'local (no WAN link)',
          figures: [
            fig('total', total / 1000, 's', 'lower'),
            fig('mark (listing + mark)', clock.span('listing', 'sweep-cache') / 1000, 's', 'lower'),
            fig('sweep S3', clock.span('sweep-s3', apply ? 'verify' : 'done') / 1000, 's', 'lower'),
            ...(apply ? [fig('verify', clock.span('verify', 'done') / 1000, 's', 'lower')] : []),
            fig('peak RSS', rss / 2 ** 20, 'MiB', 'lower'),
            fig('LIST requests', st.lists, 'req'),
            fig('expected LISTs', expLists, 'req'),
            fig('DeleteObjects requests', st.deleteObjects, 'req'),
            fig('expected DeleteObjects', expDeletes, 'req'),
          ],
          note: `${references.toLocaleString('en')} index references, ${referencedCount.toLocaleString('en')} referenced chunks, ${candidates.toLocaleString('en')} deletable, ${fresh.toLocaleString('en')} kept by grace; ${st.requests} S3 requests in all (index GETs: ${st.objectGets}); load ${load()}`,
        });
      }
    } finally {
      const keys = await deps.redis.keys(`{${ns}}:*`).catch(() => [] as string[]);
      if (keys.length) await deps.redis.unlink(...keys).catch(() => {});
      await deps.close();
      destroyS3Clients();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    }

    // The mark's digest file alone: random digests (as many distinct chunks), the external sort and merge, then lookups.
    ctx.log(`gc: mark alone, ${markDigests} digests (load ${load()})`);
    const markDir = path.join(ctx.workDir, 'gc-mark');
    await mkdir(markDir, { recursive: true });
    try {
      await resetPeak();
      let peakDisk = 0;
      const sampler = setInterval(() => void dirBytes(markDir).then((n) => (peakDisk = Math.max(peakDisk, n))), 200);
      const t = performance.now();
      const w = new DigestFileWriter(markDir, 'marked');
      const block = 32 * 32_768;
      for (let done = 0; done < markDigests;) {
        const buf = randomBytes(Math.min(block, (markDigests - done) * 32));
        for (let o = 0; o < buf.length; o += 32) {
          const full = w.add(buf.subarray(o, o + 32));
          if (full) await full;
        }
        done += buf.length / 32;
      }
      const collected = performance.now() - t;
      const { file, count } = await w.finish();
      const total = performance.now() - t;
      clearInterval(sampler);
      peakDisk = Math.max(peakDisk, await dirBytes(markDir));
      const set = await DigestSet.open(file);
      const probes = 100_000;
      const tl = performance.now();
      for (let i = 0; i < probes; i++) set.has(randomBytes(32));
      const lookups = probes / ((performance.now() - tl) / 1000);
      set.close();
      const rss = await peakRss();
      out.row({
        case: `mark alone, ${markDigests.toLocaleString('en')} digests`,
        system: 'DigestFileWriter (external sort, 32 MiB runs)',
        link: 'local (no WAN link)',
        figures: [
          fig('total', total / 1000, 's', 'lower'),
          fig('collect and sort runs', collected / 1000, 's', 'lower'),
          fig('merge', (total - collected) / 1000, 's', 'lower'),
          fig('peak RSS', rss / 2 ** 20, 'MiB', 'lower'),
          fig('peak disk', peakDisk / 2 ** 20, 'MiB', 'lower'),
          fig('membership tests', lookups, 'lookups/s', 'higher'),
        ],
        note: `${count.toLocaleString('en')} distinct digests; peak disk sampled every 200 ms; load ${load()}`,
      });
    } finally {
      await rm(markDir, { recursive: true, force: true });
    }
    out.note(
      'Chunk objects are empty and written into the embedded S3 store directly (not PUT); indexes are PUT. Peak RSS is of the bench ' +
        'process (S3 runs in its own), reset before each measurement. Deletes are s3rver-bound (files and folders unlinked per key).',
    );
    return out.done();
  },
};
