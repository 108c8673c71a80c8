import { runCommand } from './processes.js';
import { mibPerSec } from './units.js';

/** Options of {@link nbdCopyToNull}. */
export interface NbdCopyOptions {
  /** NBD connections nbdcopy opens (its default is 4 when the server allows multi-conn). */
  connections?: number;
  /** Requests in flight per connection (nbdcopy's default is 64). */
  requests?: number;
  /** Bytes per request (nbdcopy's default is 256 KiB). */
  requestSize?: number;
  timeoutMs?: number;
  /**
   * Read only the first `prefixBytes` of the export: nbdcopy then reads from a captive nbdkit (nbd plugin +
   * truncate filter) in front of the URI, since nbdcopy itself has no length option.
   */
  prefixBytes?: number;
}

/** Figures of one full read. */
export interface NbdCopyResult {
  bytes: number;
  ms: number;
  mibPerSec: number;
  command: string;
}

/** Size in bytes of an NBD export (`nbdinfo --size`). */
export async function nbdSize(uri: string): Promise<number> {
  const r = await runCommand('nbdinfo', ['--size', uri], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`nbdinfo ${uri} failed: ${r.stderr.trim()}`);
  return Number(r.stdout.trim());
}

/** Read a whole NBD export sequentially with nbdcopy into `null:` (every byte, extents ignored) and time it. */
export async function nbdCopyToNull(uri: string, opts: NbdCopyOptions = {}): Promise<NbdCopyResult> {
  const size = await nbdSize(uri);
  const prefix = opts.prefixBytes !== undefined && opts.prefixBytes < size ? opts.prefixBytes : undefined;
  const bytes = prefix ?? size;
  const args = ['--no-extents'];
  if (opts.connections) args.push(`--connections=${opts.connections}`);
  if (opts.requests) args.push(`--requests=${opts.requests}`);
  if (opts.requestSize) args.push(`--request-size=${opts.requestSize}`);
  if (prefix === undefined) args.push(uri, 'null:');
  else args.push('--', '[', 'nbdkit', '--exit-with-parent', '-r', '--filter=truncate', 'nbd', `uri=${uri}`, `truncate=${prefix}`, ']', 'null:');
  const r = await runCommand('nbdcopy', args, { timeoutMs: opts.timeoutMs ?? 600_000 });
  if (r.code !== 0) throw new Error(`nbdcopy ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return { bytes, ms: r.ms, mibPerSec: mibPerSec(bytes, r.ms), command: `nbdcopy ${args.join(' ')}` };
}
