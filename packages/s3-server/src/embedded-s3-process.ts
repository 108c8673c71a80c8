import { fork } from 'node:child_process';
import type { EmbeddedS3Options, S3Fault, S3ServerStats } from './types.js';

/** A request of the parent to the server process. */
type Request = { op: 'stats' } | { op: 'reset' } | { op: 'fault'; fault: S3Fault | undefined };
export type ChildRequest = { id: number } & Request;

/** The embedded S3 server in a process of its own: its clock stamps arrivals without waiting on the test's event loop. */
export interface EmbeddedS3Process {
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  stats(): Promise<S3ServerStats>;
  resetStats(): Promise<void>;
  setFault(fault: S3Fault | undefined): Promise<void>;
  /** Kill the process. */
  stop(): Promise<void>;
}

/**
 * Start the embedded S3 server in a child process (as a provider is: its own clock and event loop), for tests that
 * count requests per second at the server. Stats cross the process boundary with their Maps (advanced serialization).
 */
export async function startEmbeddedS3Process(opts: EmbeddedS3Options): Promise<EmbeddedS3Process> {
  const child = fork(new URL('./embedded-s3-child.js', import.meta.url), [JSON.stringify(opts)], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve(v: unknown): void; reject(err: Error): void }>();
  let next = 1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`the embedded S3 process exited (${signal ?? code})`));
    pending.clear();
  });
  child.on('message', (m: { id: number; result?: unknown }) => {
    pending.get(m.id)?.resolve(m.result);
    pending.delete(m.id);
  });
  const call = (id: number, send?: ChildRequest) =>
    new Promise<unknown>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (send) child.send(send);
    });
  const started = (await call(0)) as { endpoint: string; host: string; port: number };
  const ask = (req: Request) => {
    const id = next++;
    return call(id, { ...req, id });
  };
  return {
    ...started,
    stats: async () => (await ask({ op: 'stats' })) as S3ServerStats,
    resetStats: async () => void (await ask({ op: 'reset' })),
    setFault: async (fault) => void (await ask({ op: 'fault', fault })),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
