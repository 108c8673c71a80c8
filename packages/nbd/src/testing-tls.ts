// For tests (exported as @larder/nbd/testing): throwaway TLS material made with GnuTLS's certtool and psktool, laid out
// as libnbd (`tls-certificates=DIR`) and QEMU (`tls-creds-x509,dir=DIR`) read it.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsTestFiles {
  /** The CA's certificate (PEM): the server's `caFile`. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Per client certificate CN: a directory with ca-cert.pem, client-cert.pem and client-key.pem. */
  readonly clientDirs: Readonly<Record<string, string>>;
  /** A directory with only ca-cert.pem (a client that verifies the server but has no certificate). */
  readonly anonymousDir: string;
  /** psktool's file with every PSK identity asked for. */
  readonly pskFile: string;
  /** The same keys as hex, by identity. */
  readonly pskKeys: Readonly<Record<string, string>>;
}

async function certtool(dir: string, args: string[], template?: string): Promise<void> {
  if (template !== undefined) {
    const file = path.join(dir, `template-${Math.random().toString(36).slice(2)}.info`);
    await writeFile(file, template);
    args = [...args, '--template', file];
  }
  await run('certtool', args, { cwd: dir });
}

async function privateKey(dir: string, name: string): Promise<string> {
  const file = path.join(dir, name);
  await certtool(dir, ['--generate-privkey', '--key-type=ecdsa', '--outfile', file]);
  return file;
}

/** A CA, a server certificate for 127.0.0.1/localhost, client certificates with the CNs `clients`, and PSKs for `pskIdentities`. */
export async function makeTlsTestFiles(dir: string, clients: string[], pskIdentities: string[]): Promise<TlsTestFiles> {
  await mkdir(dir, { recursive: true });
  const caKey = await privateKey(dir, 'ca-key.pem');
  const caFile = path.join(dir, 'ca-cert.pem');
  await certtool(dir, ['--generate-self-signed', '--load-privkey', caKey, '--outfile', caFile], 'cn = Larder test CA\nca\ncert_signing_key\nexpiration_days = 2\n');
  const signed = async (key: string, out: string, template: string): Promise<void> =>
    certtool(dir, ['--generate-certificate', '--load-privkey', key, '--load-ca-certificate', caFile, '--load-ca-privkey', caKey, '--outfile', out], template);
  const keyFile = await privateKey(dir, 'server-key.pem');
  const certFile = path.join(dir, 'server-cert.pem');
  await signed(keyFile, certFile, 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n');
  const clientDirs: Record<string, string> = {};
  for (const cn of clients) {
    const d = path.join(dir, `client-${cn}`);
    await mkdir(d);
    await run('cp', [caFile, path.join(d, 'ca-cert.pem')]);
    const key = await privateKey(d, 'client-key.pem');
    await signed(key, path.join(d, 'client-cert.pem'), `cn = ${cn}\ntls_www_client\nsigning_key\nencryption_key\nexpiration_days = 2\n`);
    clientDirs[cn] = d;
  }
  const anonymousDir = path.join(dir, 'client-anonymous');
  await mkdir(anonymousDir);
  await run('cp', [caFile, path.join(anonymousDir, 'ca-cert.pem')]);
  const pskFile = path.join(dir, 'keys.psk');
  for (const id of pskIdentities) await run('psktool', ['-u', id, '-p', pskFile]);
  const pskKeys: Record<string, string> = {};
  for (const line of (await readFile(pskFile, 'utf8')).split('\n')) {
    const [id, hex] = line.split(':');
    if (id && hex) pskKeys[id] = hex;
  }
  return { caFile, certFile, keyFile, clientDirs, anonymousDir, pskFile, pskKeys };
}
