// A redis-server of a test's own, never the shared one (the `@larder/redis/testing` entry: tests of every package use it).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from '@larder/config/testing';

/** A redis-server on a free port that a test may flush, stop and start again. */
export interface OwnRedis {
  /** `redis://127.0.0.1:P`, or `rediss://` with TLS (no credentials in it). */
  readonly url: string;
  readonly port: number;
  /** Stop the server (SIGKILL; it saves nothing: `--save '' --appendonly no`). */
  stop(): Promise<void>;
  /** Start it again on the same port (empty unless it persists). */
  start(): Promise<void>;
}

/** Options of {@link startOwnRedis}. */
export interface OwnRedisOptions {
  /** An append-only file fsynced on every write in this folder: a restart keeps the data. */
  persistDir?: string;
  /** `--requirepass`: the default user's password. */
  password?: string;
  /** TLS only (`--tls-port`, no plain port) with these PEM files; clients must show a certificate unless `authClients` is false. */
  tls?: { certFile: string; keyFile: string; caFile: string; authClients?: boolean };
}

/**
 * Spawn `redis-server --port P --save '' --appendonly no --daemonize no` and wait until it accepts connections. With
 * `persistDir`, an append-only file fsynced on every write in that folder: a restart keeps the data.
 */
export async function startOwnRedis(opts: OwnRedisOptions = {}): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const up = async () => {
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.end(() => resolve(true)));
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${port} did not start`);
  };
  const own: OwnRedis = {
    url: `${opts.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    start: async () => {
      // Already running: a second server on the port would fail to bind and leave this one without an owner.
      if (child && child.exitCode === null && child.signalCode === null) return;
      const persist = opts.persistDir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', opts.persistDir] : ['--appendonly', 'no'];
      const auth = opts.password !== undefined ? ['--requirepass', opts.password] : [];
      const t = opts.tls;
      const listen = t
        ? [
            '--port',
            '0',
            '--tls-port',
            String(port),
            '--tls-cert-file',
            t.certFile,
            '--tls-key-file',
            t.keyFile,
            '--tls-ca-cert-file',
            t.caFile,
            '--tls-auth-clients',
            t.authClients === false ? 'no' : 'yes',
          ]
        : ['--port', String(port)];
      child = spawn('redis-server', [...listen, '--bind', '127.0.0.1', '--save', '', ...persist, ...auth, '--daemonize', 'no'], { stdio: 'ignore' });
      await up();
    },
    stop: async () => {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
  await own.start();
  return own;
}
