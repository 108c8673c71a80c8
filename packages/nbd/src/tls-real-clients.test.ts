// NBD over TLS with real clients: nbdinfo and nbdcopy (libnbd, GnuTLS) and qemu-img (GnuTLS), with certificates and PSK.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusError } from '@larder/errors';
import { parsePskFile } from './psk-file.js';
import { createNbdServer } from './server.js';
import { createMemoryProvider, demoExports, recordingLogger } from './test-memory-provider.js';
import { makeTlsTestFiles, type TlsTestFiles } from './testing-tls.js';
import type { NbdClient, NbdServer } from './types.js';

const run = promisify(execFile);

function onPath(tool: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, tool)));
}

const haveTools = ['qemu-img', 'nbdinfo', 'nbdcopy', 'certtool', 'psktool'].every(onPath);
const specs = demoExports();
const disk1 = specs[0]!.data;
const disk2 = specs[1]!.data;

/** Run a tool; resolves with exit code and output instead of throwing. `debug`: LIBNBD_DEBUG=1 (libnbd prints the server's messages). */
async function tool(cmd: string, args: string[], debug = false): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 20_000, env: { ...process.env, LIBNBD_DEBUG: debug ? '1' : '0' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

describe.skipIf(!haveTools)('NBD over TLS with real clients', () => {
  let dir: string;
  let files: TlsTestFiles;
  let server: NbdServer;
  let port: number;
  const logger = recordingLogger();
  /** Who the provider was asked for, per call. */
  const seen: NbdClient[] = [];
  const nbds = (exp: string, query: string, user = '') => `nbds://${user ? `${user}@` : ''}127.0.0.1:${port}/${exp}?${query}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-nbd-tls-'));
    files = await makeTlsTestFiles(join(dir, 'tls'), ['alice', 'bob'], ['alice', 'bob']);
    const provider = createMemoryProvider(specs);
    const list = provider.list.bind(provider);
    const open = provider.open.bind(provider);
    // Bob may only use demo/disk2: the provider decides by the identity TLS established.
    provider.list = async (client) => {
      seen.push(client);
      return (await list(client)).filter((e) => client.identity !== 'bob' || e.name === 'demo/disk2');
    };
    provider.open = async (name, client) => {
      seen.push(client);
      if (client.identity === 'bob' && name !== 'demo/disk2') throw new StatusError(403, `'bob' may not use ${name}`);
      return open(name, client);
    };
    server = createNbdServer({
      provider,
      port: 0,
      logger,
      tls: {
        cert: await readFile(files.certFile),
        key: await readFile(files.keyFile),
        ca: await readFile(files.caFile),
        psk: parsePskFile(await readFile(files.pskFile, 'utf8')),
      },
    });
    ({ port } = await server.listen());
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('nbdinfo --list over TLS with a client certificate: the identity is its CN', async () => {
    const r = await tool('nbdinfo', ['--json', '--list', nbds('', `tls-certificates=${files.clientDirs['alice']}`)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as { exports: { 'export-name': string; 'export-size': number }[] };
    expect(info.exports.map((e) => [e['export-name'], e['export-size']])).toEqual([
      ['demo/disk1', disk1.length],
      ['demo/disk2', disk2.length],
    ]);
    expect(seen.at(-1)).toMatchObject({ tls: true, identity: 'alice' });
  });

  it('nbdcopy and qemu-img copy an export byte for byte over TLS with a client certificate', async () => {
    const viaNbdcopy = join(dir, 'nbdcopy-x509.raw');
    const n = await tool('nbdcopy', [nbds('demo/disk1', `tls-certificates=${files.clientDirs['alice']}`), viaNbdcopy]);
    expect(n.stderr).toBe('');
    expect((await readFile(viaNbdcopy)).equals(disk1)).toBe(true);
    const viaQemu = join(dir, 'qemu-x509.raw');
    const q = await tool('qemu-img', [
      'convert',
      '--object',
      `tls-creds-x509,id=tls0,endpoint=client,dir=${files.clientDirs['alice']}`,
      '--image-opts',
      `driver=raw,file.driver=nbd,file.host=127.0.0.1,file.port=${port},file.export=demo/disk2,file.tls-creds=tls0`,
      '-O',
      'raw',
      viaQemu,
    ]);
    expect(q.stderr).toBe('');
    expect(q.code).toBe(0);
    expect((await readFile(viaQemu)).equals(disk2)).toBe(true);
  });

  it('nbdinfo, nbdcopy and qemu-img read over TLS with a PSK (psktool file): the identity is the PSK username', async () => {
    const size = await tool('nbdinfo', ['--size', nbds('demo/disk1', `tls-psk-file=${files.pskFile}`, 'alice')]);
    expect(size).toMatchObject({ code: 0, stdout: `${disk1.length}\n` });
    expect(seen.at(-1)).toMatchObject({ tls: true, identity: 'alice' });
    const viaNbdcopy = join(dir, 'nbdcopy-psk.raw');
    const n = await tool('nbdcopy', [nbds('demo/disk1', `tls-psk-file=${files.pskFile}`, 'alice'), viaNbdcopy]);
    expect(n.stderr).toBe('');
    expect((await readFile(viaNbdcopy)).equals(disk1)).toBe(true);
    // QEMU's tls-creds-psk reads <dir>/keys.psk.
    const viaQemu = join(dir, 'qemu-psk.raw');
    const q = await tool('qemu-img', [
      'convert',
      '--object',
      `tls-creds-psk,id=tls0,endpoint=client,dir=${join(dir, 'tls')},username=alice`,
      '--image-opts',
      `driver=raw,file.driver=nbd,file.host=127.0.0.1,file.port=${port},file.export=demo/disk2,file.tls-creds=tls0`,
      '-O',
      'raw',
      viaQemu,
    ]);
    expect(q.stderr).toBe('');
    expect(q.code).toBe(0);
    expect((await readFile(viaQemu)).equals(disk2)).toBe(true);
  });

  it('refuses clients without TLS: nbdinfo and qemu-img fail, nothing is listed or opened', async () => {
    const before = seen.length;
    // libnbd reports NBD_REP_ERR_TLS_REQD as ENOTSUP and prints the server's message in its debug output.
    const list = await tool('nbdinfo', ['--list', `nbd://127.0.0.1:${port}`], true);
    expect(list.code).not.toBe(0);
    expect(list.stderr).toContain('server error message: TLS is required: send NBD_OPT_STARTTLS first');
    const size = await tool('nbdinfo', ['--size', `nbd://127.0.0.1:${port}/demo/disk1`], true);
    expect(size.code).not.toBe(0);
    expect(size.stderr).toContain('server error message: TLS is required');
    const q = await tool('qemu-img', ['info', `nbd://127.0.0.1:${port}/demo/disk1`]);
    expect(q.code).not.toBe(0);
    expect(q.stderr).toMatch(/TLS/);
    expect(seen.length).toBe(before);
  });

  it('refuses a wrong PSK, an unknown PSK identity, and (with a CA configured) a client without a certificate', async () => {
    const before = seen.length;
    const wrong = join(dir, 'wrong.psk');
    await writeFile(wrong, `alice:${'00'.repeat(32)}\nmallory:${files.pskKeys['alice']}\n`);
    for (const user of ['alice', 'mallory']) {
      const r = await tool('nbdinfo', ['--size', nbds('demo/disk1', `tls-psk-file=${wrong}`, user)]);
      expect(r.code, user).not.toBe(0);
      expect(r.stdout).toBe('');
    }
    const anon = await tool('nbdinfo', ['--size', nbds('demo/disk1', `tls-certificates=${files.anonymousDir}`)]);
    expect(anon.code).not.toBe(0);
    expect(seen.length).toBe(before);
    expect(logger.lines.some((l) => l.level === 'warn' && /client certificate refused/.test(l.msg))).toBe(true);
  });

  it('an identity without access to an export does not see it and cannot open it (NBD_REP_ERR_POLICY)', async () => {
    const list = await tool('nbdinfo', ['--json', '--list', nbds('', `tls-psk-file=${files.pskFile}`, 'bob')]);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { exports: { 'export-name': string }[] }).exports.map((e) => e['export-name'])).toEqual(['demo/disk2']);
    const denied = await tool('nbdinfo', ['--size', nbds('demo/disk1', `tls-certificates=${files.clientDirs['bob']}`)]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Operation not permitted|permission|policy/i);
    const q = await tool('qemu-img', [
      'info',
      '--object',
      `tls-creds-psk,id=tls0,endpoint=client,dir=${join(dir, 'tls')},username=bob`,
      '--image-opts',
      `driver=nbd,host=127.0.0.1,port=${port},export=demo/disk1,tls-creds=tls0`,
    ]);
    expect(q.code).not.toBe(0);
    expect(q.stderr).toContain("'bob' may not use demo/disk1");
    const allowed = await tool('nbdinfo', ['--size', nbds('demo/disk2', `tls-certificates=${files.clientDirs['bob']}`)]);
    expect(allowed).toMatchObject({ code: 0, stdout: `${disk2.length}\n` });
  });

  it('every client negotiated TLS 1.3, with certificates and with PSK', () => {
    const started = logger.lines.filter((l) => l.msg === 'nbd: TLS started').map((l) => (l.meta as { protocol: string }).protocol);
    expect(started.length).toBeGreaterThan(10);
    expect(new Set(started)).toEqual(new Set(['TLSv1.3']));
  });
});
