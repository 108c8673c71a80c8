// The gateway's NBD over TLS with real clients (nbdinfo, nbdcopy, qemu-img), and gateway.nbdAccess per datastore.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { importRawImage } from '@larder/datastore';
import { startGateway } from '@larder/gateway';
import { makeTlsTestFiles, type TlsTestFiles } from '@larder/nbd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './test-stack.js';

const run = promisify(execFile);
const haveTools = ['qemu-img', 'nbdinfo', 'nbdcopy', 'certtool', 'psktool'].every((t) =>
  (process.env['PATH'] ?? '').split(path.delimiter).some((d) => d && existsSync(path.join(d, t))),
);

/** Run a tool with LIBNBD_DEBUG=1 (libnbd then prints the server's messages); resolves with exit code and output. */
async function tool(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 60_000, env: { ...process.env, LIBNBD_DEBUG: cmd === 'qemu-img' ? '0' : '1' }, maxBuffer: 64 * 2 ** 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

describe.skipIf(!haveTools)('gateway NBD over TLS', () => {
  let stack: TestStack;
  let files: TlsTestFiles;
  let tlsDir: string;
  let image: Buffer;
  const exportName = 'demo/vm/100/disk.img.fidx';
  const nbds = (exp: string, query: string, user = '') => `nbds://${user ? `${user}@` : ''}127.0.0.1:${stack.gateways[0]?.nbdPort}/${exp}?${query}`;
  const psk = (user: string, exp = exportName) => nbds(exp, `tls-psk-file=${files.pskFile}`, user);

  beforeAll(async () => {
    tlsDir = await mkdtemp(path.join(os.tmpdir(), 'larder-nbd-tls-'));
    files = await makeTlsTestFiles(tlsDir, ['alice', 'bob'], ['alice', 'bob', 'carol']);
    stack = await startTestStack({
      config: {
        gateway: {
          listen: '127.0.0.1:0',
          nbdListen: '127.0.0.1:0',
          s3Listen: '127.0.0.1:0',
          touchFlushInterval: '100ms',
          requestTimeout: '5s',
          nbdTls: { certFile: files.certFile, keyFile: files.keyFile, caFile: files.caFile, pskFile: files.pskFile },
          // carol has a key but no access; bob only the casync datastore.
          nbdAccess: [
            { identity: 'alice', datastores: ['*'] },
            { identity: 'bob', datastores: ['cas'] },
          ],
        },
      },
    });
    image = Buffer.concat([randomBytes(5 * 2 ** 20), Buffer.alloc(2 ** 20), randomBytes(777)]);
    const raw = path.join(stack.dir, 'disk.raw');
    await writeFile(raw, image);
    await importRawImage({ ds: stack.ds('demo'), file: raw, name: 'vm/100/disk.img' });
  }, 120_000);

  afterAll(async () => {
    await stack?.cleanup();
    if (tlsDir) await rm(tlsDir, { recursive: true, force: true });
  });

  it('alice (client certificate) lists the image and qemu-img restores it byte for byte over TLS', async () => {
    const list = await tool('nbdinfo', ['--json', '--list', nbds('', `tls-certificates=${files.clientDirs['alice']}`)]);
    expect(list.code).toBe(0);
    const exports = (JSON.parse(list.stdout) as { exports: { 'export-name': string; 'export-size': number }[] }).exports;
    expect(exports.map((e) => [e['export-name'], e['export-size']])).toEqual([[exportName, image.length]]);
    const out = path.join(stack.dir, 'qemu.raw');
    const q = await tool('qemu-img', [
      'convert',
      '--object',
      `tls-creds-x509,id=tls0,endpoint=client,dir=${files.clientDirs['alice']}`,
      '--image-opts',
      `driver=raw,file.driver=nbd,file.host=127.0.0.1,file.port=${stack.gateways[0]?.nbdPort},file.export=${exportName},file.tls-creds=tls0`,
      '-O',
      'raw',
      out,
    ]);
    expect(q.stderr).toBe('');
    const copy = await readFile(out);
    expect(copy.length).toBe(Math.ceil(image.length / 512) * 512);
    expect(copy.subarray(0, image.length).equals(image)).toBe(true);
  });

  it('/v1/status says TLS is required', async () => {
    const status = (await (await fetch(`${stack.gateway()}/v1/status`)).json()) as { nbd: { tls: string } };
    expect(status.nbd.tls).toBe('required');
  });

  it('alice (PSK) restores the image with nbdcopy', async () => {
    const out = path.join(stack.dir, 'nbdcopy.raw');
    const r = await tool('nbdcopy', [psk('alice'), out]);
    expect(r.code).toBe(0);
    expect((await readFile(out)).equals(image)).toBe(true);
  });

  it("bob and carol do not see the demo datastore's image and cannot open it (NBD_REP_ERR_POLICY, with the reason)", async () => {
    for (const user of ['bob', 'carol']) {
      const list = await tool('nbdinfo', ['--json', '--list', nbds('', `tls-psk-file=${files.pskFile}`, user)]);
      expect(list.code, user).toBe(0);
      expect((JSON.parse(list.stdout) as { exports: unknown[] }).exports, user).toEqual([]);
      const open = await tool('nbdinfo', ['--size', psk(user)]);
      expect(open.code, user).not.toBe(0);
      expect(open.stderr).toContain(`server error message: cannot open export '${exportName}': identity '${user}' may not use datastore 'demo' (gateway.nbdAccess)`);
      expect(open.stderr).toContain('server policy prevents NBD_OPT_GO');
    }
    const byCert = await tool('nbdinfo', ['--size', nbds(exportName, `tls-certificates=${files.clientDirs['bob']}`)]);
    expect(byCert.code).not.toBe(0);
    expect(byCert.stderr).toContain("identity 'bob' may not use datastore 'demo'");
  });

  it('refuses clients without TLS, with a wrong PSK, or without a client certificate', async () => {
    const plain = await tool('nbdinfo', ['--size', `nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/${exportName}`]);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain('TLS is required');
    const q = await tool('qemu-img', ['info', `nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/${exportName}`]);
    expect(q.code).not.toBe(0);
    expect(q.stderr).toContain('TLS is required');
    const wrong = path.join(tlsDir, 'wrong.psk');
    await writeFile(wrong, `alice:${randomBytes(32).toString('hex')}\n`);
    const badKey = await tool('nbdinfo', ['--size', nbds(exportName, `tls-psk-file=${wrong}`, 'alice')]);
    expect(badKey.code).not.toBe(0);
    expect(badKey.stdout).toBe('');
    const noCert = await tool('nbdinfo', ['--size', nbds(exportName, `tls-certificates=${files.anonymousDir}`)]);
    expect(noCert.code).not.toBe(0);
    expect(noCert.stdout).toBe('');
  });

  it('a gateway refuses to start with NBD on a non-loopback address without TLS, and with nbdAccess but no nbdTls', async () => {
    const deps = stack.deps;
    const { nbdTls: _tls, ...plain } = stack.config.gateway;
    const gateway = (g: typeof stack.config.gateway, nbdListen: string) =>
      startGateway({
        config: () => ({ ...stack.config, gateway: g }),
        nc: deps.nc,
        index: deps.index,
        volume: deps.volume,
        redis: deps.redis,
        listen: '127.0.0.1:0',
        nbdListen,
        s3Listen: false,
      });
    await expect(gateway({ ...plain, nbdAccess: [] }, '0.0.0.0:0')).rejects.toThrow(/not a loopback address and gateway.nbdTls is not configured/);
    await expect(gateway(plain, '127.0.0.1:0')).rejects.toThrow(/gateway.nbdAccess is set but gateway.nbdTls is not/);
    const open = await gateway({ ...plain, nbdAccess: [], allowOpen: true }, '0.0.0.0:0');
    await open.stop();
  });
});
