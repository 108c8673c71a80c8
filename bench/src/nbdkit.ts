import { freePort, spawnService, waitForPort } from './processes.js';
import type { Service } from './processes.js';

/** Options of {@link startNbdkit}. */
export interface NbdkitOptions {
  /** Plugin name, e.g. `curl`, `file`, `memory`. */
  plugin: string;
  /** Plugin and filter parameters (`key=value`), after the plugin name. */
  params: readonly string[];
  /** Filters, innermost last as on the nbdkit command line (`--filter=` each). */
  filters?: readonly string[];
  /** Serve read-only (default true). */
  readonly?: boolean;
  /** Environment (TMPDIR decides where the cache filter keeps its file). */
  env?: NodeJS.ProcessEnv;
  /** Thread count (`-t`), nbdkit's default when unset. */
  threads?: number;
}

/** A running nbdkit. */
export interface Nbdkit {
  /** NBD URI, e.g. `nbd://127.0.0.1:10809`. */
  readonly uri: string;
  readonly port: number;
  /** Process id of the nbdkit process. */
  readonly pid: number | undefined;
  /** The command line it was started with, for reports. */
  readonly commandLine: string;
  stop(): Promise<void>;
}

/** Start nbdkit in the foreground on 127.0.0.1 and a free port; resolves once it accepts connections. */
export async function startNbdkit(opts: NbdkitOptions): Promise<Nbdkit> {
  const port = await freePort();
  const args = ['-f', '--exit-with-parent', '-i', '127.0.0.1', '-p', String(port)];
  if (opts.readonly ?? true) args.push('-r');
  if (opts.threads) args.push('-t', String(opts.threads));
  for (const f of opts.filters ?? []) args.push(`--filter=${f}`);
  args.push(opts.plugin, ...opts.params);
  const svc: Service = spawnService('nbdkit', args, { env: { ...process.env, ...opts.env } });
  try {
    await waitForPort('127.0.0.1', port, 15_000, svc.child);
  } catch (err) {
    await svc.stop();
    throw new Error(`nbdkit did not start: ${(err as Error).message}\n${svc.stderrTail()}`);
  }
  return { uri: `nbd://127.0.0.1:${port}`, port, pid: svc.child.pid, commandLine: `nbdkit ${args.join(' ')}`, stop: () => svc.stop() };
}
