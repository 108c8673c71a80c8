import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { createLogger } from '@larder/telemetry';
import type { FileIdentity } from '@larder/volume';

const log = createLogger('gateway');

/** The environment variable that tells a gateway worker its index (0 … workers − 1). */
export const WORKER_ENV = 'LARDER_GATEWAY_WORKER';

/** How many HTTP processes `gateway.workers` asks for: `auto` is one per CPU. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? Math.max(1, availableParallelism()) : setting;
}

/** Who this process is among the gateway's workers: index and count; `{ index: 0, count: 1 }` when it runs alone. */
export interface WorkerRole {
  index: number;
  count: number;
}

/** This process's role: a cluster worker reads its index from {@link WORKER_ENV}; anything else is the only one. */
export function workerRole(count: number): WorkerRole {
  if (cluster.isPrimary) return { index: 0, count: 1 };
  const index = Number(process.env[WORKER_ENV] ?? 0);
  return { index: Number.isInteger(index) && index >= 0 ? index : 0, count };
}

/** Options of {@link superviseWorkers}. */
export interface SuperviseOptions {
  /** A worker that dies this soon after it started is forked again only after `restartDelayMs` (a crash loop is not a busy loop). */
  quickDeathMs?: number;
  restartDelayMs?: number;
}

/**
 * The primary of a gateway run with `gateway.workers` > 1: forks `count` workers (this same script), which share the
 * HTTP listen socket (node:cluster's primary accepts connections and hands them out in turn), and forks a worker
 * again, with the same index, whenever one dies. A worker that fails before every worker listened once means the
 * gateway cannot start (bad config, port taken): everything stops and the primary exits 1. SIGINT/SIGTERM stop the
 * workers (SIGTERM, SIGKILL after 10 s) and then the primary.
 */
export function superviseWorkers(count: number, opts: SuperviseOptions = {}): void {
  const quickDeathMs = opts.quickDeathMs ?? 10_000;
  const restartDelayMs = opts.restartDelayMs ?? 1000;
  let stopping = false;
  const started = new Map<Worker, { index: number; at: number }>();
  const listened = new Set<number>();
  const fork = (index: number) => {
    // A CPU profile asked of the gateway (--cpu-prof-name) is written by each worker under a name of its own.
    cluster.setupPrimary({ execArgv: process.execArgv.map((a) => (a.startsWith('--cpu-prof-name=') ? a.replace(/(\.cpuprofile)?$/, `-worker${index}$1`) : a)) });
    const w = cluster.fork({ [WORKER_ENV]: String(index) });
    started.set(w, { index, at: Date.now() });
    w.once('listening', () => {
      listened.add(index);
      if (listened.size === count) log.info('gateway workers listening', { workers: count });
    });
  };
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const alive = [...started.keys()].filter((w) => !w.isDead());
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill('SIGKILL'), 10_000);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            w.process.kill('SIGTERM');
          }),
      ),
    );
    process.exit(code);
  };
  cluster.on('exit', (w, code, signal) => {
    const info = started.get(w);
    started.delete(w);
    if (stopping || !info) return;
    if (listened.size < count && !listened.has(info.index)) {
      process.stderr.write(`larder gateway: worker ${info.index} could not start (exit ${code ?? signal}); stopping\n`);
      void stopAll(1);
      return;
    }
    const quick = Date.now() - info.at < quickDeathMs;
    log.warn('gateway worker died: starting it again', { worker: info.index, pid: w.process.pid, code, signal, delayMs: quick ? restartDelayMs : 0 });
    setTimeout(
      () => {
        if (!stopping) fork(info.index);
      },
      quick ? restartDelayMs : 0,
    );
  });
  // A chunk file one worker verified (or a fetcher verified for it) is proven for the others too: relay the proofs.
  cluster.on('message', (from, msg: { type?: string }) => {
    if (msg?.type !== PROOF) return;
    for (const w of started.keys()) if (w !== from && w.isConnected()) w.send(msg);
  });
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));
  for (let i = 0; i < count; i++) fork(i);
}

const PROOF = 'larder:chunk-proof';

/** What a worker's chunk store shares with the other workers: the proofs it makes, and the ones they make. */
export interface ProofSharing {
  onProof(fn: (key: string, identity: FileIdentity) => void): void;
  acceptProof(key: string, identity: FileIdentity): void;
}

/**
 * In a worker: send every proof the chunk store makes to the supervisor (which relays it to the other workers), and
 * take theirs, so that a chunk verified by one worker is not hashed again by each of the others on its first hit there.
 */
export function shareProofs(chunks: ProofSharing): void {
  if (!cluster.isWorker) return;
  chunks.onProof((key, identity) => process.send?.({ type: PROOF, key, identity }));
  process.on('message', (msg: { type?: string; key?: string; identity?: FileIdentity }) => {
    if (msg?.type === PROOF && typeof msg.key === 'string' && msg.identity) chunks.acceptProof(msg.key, msg.identity);
  });
}
