// A nats-server of a test's own, never the shared one (the `@larder/bus/testing` entry).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '@larder/config/testing';

/** A nats-server on a free port of 127.0.0.1, for one test file. */
export interface OwnNats {
  /** `nats://127.0.0.1:P` (no credentials in it). */
  readonly url: string;
  readonly port: number;
  /** Stop the server (SIGKILL). */
  stop(): Promise<void>;
}

/** Options of {@link startOwnNats}. */
export interface OwnNatsOptions {
  /** `--user`/`--pass`, or `--auth` (a token). */
  user?: string;
  pass?: string;
  token?: string;
  /** `--tls` with these PEM files; with `verify`, clients must show a certificate signed by `caFile`. */
  tls?: { certFile: string; keyFile: string; caFile?: string; verify?: boolean };
  /** A config file (`-c`), e.g. infra/nats/nats.conf; `env` for the variables it names. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Debian installs nats-server in /usr/sbin, which is not on every PATH. */
const NATS_SERVER = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

/** Spawn a nats-server with `opts` on a free port and wait (bounded) until it accepts connections. */
export async function startOwnNats(opts: OwnNatsOptions = {}): Promise<OwnNats> {
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (opts.configFile) args.push('-c', opts.configFile);
  if (opts.user !== undefined) args.push('--user', opts.user, '--pass', opts.pass ?? '');
  if (opts.token !== undefined) args.push('--auth', opts.token);
  const t = opts.tls;
  if (t) {
    args.push('--tls', '--tlscert', t.certFile, '--tlskey', t.keyFile);
    if (t.caFile) args.push('--tlscacert', t.caFile);
    if (t.verify) args.push('--tlsverify');
  }
  const child: ChildProcess = spawn(NATS_SERVER, args, { stdio: 'ignore', env: { ...process.env, ...opts.env } });
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.end(() => resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (i >= 200 || child.exitCode !== null) {
      await stop();
      throw new Error(`nats-server on port ${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `nats://127.0.0.1:${port}`, port, stop };
}
