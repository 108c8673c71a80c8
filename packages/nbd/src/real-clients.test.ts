// Interoperability with real NBD clients: qemu-img (qemu-utils), nbdinfo and nbdcopy (libnbd-bin).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusError } from '@larder/errors';
import { createNbdServer } from './server.js';
import { createMemoryProvider, demoExports, recordingLogger, waitFor } from './test-memory-provider.js';
import type { NbdServer } from './types.js';

const run = promisify(execFile);

function onPath(tool: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, tool)));
}

const haveTools = ['qemu-img', 'nbdinfo', 'nbdcopy'].every(onPath);
const specs = demoExports();
const disk1 = specs[0]!.data;
const disk2 = specs[1]!.data;

/** Run a tool; resolves with exit code and output instead of throwing. */
async function tool(cmd: string, args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 15_000, env: env ? { ...process.env, ...env } : undefined });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

describe.skipIf(!haveTools)('real clients', () => {
  let server: NbdServer;
  let uri: string;
  let dir: string;
  const logger = recordingLogger();

  beforeAll(async () => {
    const provider = createMemoryProvider(specs);
    const open = provider.open.bind(provider);
    // Exports the provider cannot open, each for its own reason.
    provider.open = (name, who) => (name.startsWith('fail/') ? Promise.reject(new StatusError(Number(name.slice(5)), `cause ${name.slice(5)} of ${name}`)) : open(name, who));
    server = createNbdServer({ provider, port: 0, logger });
    const { port } = await server.listen();
    uri = `nbd://127.0.0.1:${port}`;
    dir = await mkdtemp(join(tmpdir(), 'larder-nbd-'));
  });

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('nbdinfo --list shows both exports with sizes and descriptions', async () => {
    const r = await tool('nbdinfo', ['--json', '--list', uri]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as {
      structured: boolean;
      exports: { 'export-name': string; 'export-size': number; description?: string; is_read_only: boolean }[];
    };
    expect(info.structured).toBe(true);
    expect(info.exports.map((e) => [e['export-name'], e['export-size']])).toEqual([
      ['demo/disk1', disk1.length],
      ['demo/disk2', disk2.length],
    ]);
    expect(info.exports[0]?.description).toBe('first demo disk');
    expect(info.exports.every((e) => e.is_read_only)).toBe(true);
  });

  it('nbdinfo reports the size of an export whose name contains a slash (plain or %2F)', async () => {
    const plain = await tool('nbdinfo', ['--size', `${uri}/demo/disk1`]);
    expect(plain).toMatchObject({ code: 0, stdout: `${disk1.length}\n` });
    const encoded = await tool('nbdinfo', ['--size', `${uri}/demo%2Fdisk2`]);
    expect(encoded).toMatchObject({ code: 0, stdout: `${disk2.length}\n` });
  });

  it('qemu-img convert copies the export (size rounded up to 512 with zeroes)', async () => {
    const out = join(dir, 'qemu.raw');
    const r = await tool('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', `${uri}/demo/disk1`, out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const copy = await readFile(out);
    // qemu's block layer works in 512-byte sectors: the unaligned tail is padded with zeroes.
    expect(copy.length).toBe(Math.ceil(disk1.length / 512) * 512);
    expect(copy.subarray(0, disk1.length).equals(disk1)).toBe(true);
    expect(copy.subarray(disk1.length).every((b) => b === 0)).toBe(true);
  });

  it('qemu-img accepts a percent-encoded slash and copies byte-exact when aligned', async () => {
    const out = join(dir, 'qemu2.raw');
    const r = await tool('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', `${uri}/demo%2Fdisk2`, out]);
    expect(r.code).toBe(0);
    expect((await readFile(out)).equals(disk2)).toBe(true);
  });

  it('nbdcopy copies the export byte-exact', async () => {
    const out = join(dir, 'nbdcopy.raw');
    const r = await tool('nbdcopy', [`${uri}/demo/disk1`, out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await readFile(out)).equals(disk1)).toBe(true);
  });

  it('qemu-img and nbdinfo fail cleanly on an unknown export; the server keeps serving', async () => {
    const q = await tool('qemu-img', ['info', '--output=json', `${uri}/no/such/disk`]);
    expect(q.code).not.toBe(0);
    expect(q.stderr).toContain("unknown export 'no/such/disk'");
    const n = await tool('nbdinfo', [`${uri}/no/such/disk`]);
    expect(n.code).not.toBe(0);
    expect(n.stderr).toContain('no/such/disk');
    const ok = await tool('nbdinfo', ['--size', `${uri}/demo/disk2`]);
    expect(ok).toMatchObject({ code: 0, stdout: `${disk2.length}\n` });
    await waitFor(() => server.connections === 0, 3000, 'connections to end');
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('nbdinfo and qemu-img get the reason an export cannot be opened: the error class and the message', async () => {
    // libnbd turns the reply into an errno and prints the server's message in its debug output; qemu-img prints it.
    for (const [status, errno] of [
      [404, 'No such file or directory'],
      [503, 'Cannot send after transport endpoint shutdown'],
      [422, 'Invalid argument'],
    ] as const) {
      const n = await tool('nbdinfo', [`${uri}/fail/${status}`], { LIBNBD_DEBUG: '1' });
      expect(n.code).not.toBe(0);
      expect(n.stderr).toContain(`server error message: cannot open export 'fail/${status}': cause ${status} of fail/${status}`);
      expect(n.stderr).toContain(errno);
      const q = await tool('qemu-img', ['info', `${uri}/fail/${status}`]);
      expect(q.code).not.toBe(0);
      expect(q.stderr).toContain(`server reported: cannot open export 'fail/${status}': cause ${status} of fail/${status}`);
    }
  });
});
