import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BusError } from '@larder/bus';
import { REDACTED, hashToken, parseYamlMapping, redactConfigText } from '@larder/config';
import { ConfigCache, requestConfig, requestConfigChange, requestConfigHistory } from '@larder/config-cache';
import { startConfigService } from './config-service.js';
import { testSetup, waitFor } from './test-helpers.js';
import type { ConfigService } from './types.js';

const ADMIN = 'admin-token-for-the-test-0001';
const READER = 'read-token-for-the-test-0002';
const SECRETS = [ADMIN, hashToken(READER), 'key-secret-0003', 's3-secret-0004', 'redis-password-0005', 'nats-token-0006'];

const TEXT = `# access control
capacity: 2GiB
tokens:
  - { name: ops, token: ${ADMIN}, scope: admin }
  - { name: reader, sha256: ${hashToken(READER)} }
accessKeys:
  - { accessKeyId: host1, secretAccessKey: ${SECRETS[2]} }
s3: { accessKeyId: AK, secretAccessKey: ${SECRETS[3]} }
redis: { url: "redis://:${SECRETS[4]}@127.0.0.1:6379" }
nats: { servers: nats://127.0.0.1:4222, token: ${SECRETS[5]} }
datastores:
  demo: { layout: pbs, bucket: larder-demo }
`;

let t: Awaited<ReturnType<typeof testSetup>>;
let svc: ConfigService;

beforeEach(async () => {
  t = await testSetup(TEXT);
  svc = await startConfigService({ nc: await t.connect(), file: t.file, namespace: t.ns, ttlMs: 60_000, env: {} });
});
afterEach(async () => {
  await svc.stop();
  await t.cleanup();
});

const noSecret = (s: string) => {
  for (const secret of SECRETS) expect(s).not.toContain(secret);
};

async function refused(p: Promise<unknown>): Promise<number> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BusError);
  return (err as BusError).status;
}

describe('config over NATS with tokens', () => {
  it('serves the config without its secrets unless the caller has an admin token', async () => {
    const nc = await t.connect();
    for (const token of [undefined, READER, 'not-a-token-at-all-0000']) {
      const reply = await requestConfig(nc, t.ns, {}, 2000, token);
      noSecret(JSON.stringify(reply));
      expect(!reply.unchanged && reply.text).toContain(REDACTED);
      expect(!reply.unchanged && reply.text).toContain('# access control');
    }
    const admin = await requestConfig(nc, t.ns, {}, 2000, ADMIN);
    expect(!admin.unchanged && admin.text).toBe(TEXT);
    const hist = await requestConfigHistory(nc, t.ns, { generation: 1 }, 2000, READER);
    noSecret(JSON.stringify(hist));
  });

  it('changes the config only for an admin token; otherwise nothing changes', async () => {
    const nc = await t.connect();
    const change = { op: 'set', path: 'capacity', value: '8MiB' } as const;
    expect(await refused(requestConfigChange(nc, t.ns, change))).toBe(401);
    expect(await refused(requestConfigChange(nc, t.ns, change, 5000, 'not-a-token-at-all-0000'))).toBe(401);
    expect(await refused(requestConfigChange(nc, t.ns, change, 5000, READER))).toBe(403);
    expect(await refused(requestConfigChange(nc, t.ns, { op: 'replace', text: 'capacity: 8MiB\n' }, 5000, READER))).toBe(403);
    expect(await readFile(t.file, 'utf8')).toBe(TEXT);
    expect(svc.generation).toBe(1);
    const r = await requestConfigChange(nc, t.ns, change, 5000, ADMIN);
    expect(r).toMatchObject({ generation: 2, changed: ['capacity'] });
  });

  it('refuses a change that leaves no admin token', async () => {
    const nc = await t.connect();
    const err = await requestConfigChange(nc, t.ns, { op: 'set', path: 'tokens.0.scope', value: 'read' }, 5000, ADMIN).catch((e: BusError) => e);
    expect((err as BusError).status).toBe(400);
    expect((err as BusError).message).toMatch(/no admin token/);
    expect(await refused(requestConfigChange(nc, t.ns, { op: 'unset', path: 'tokens' }, 5000, ADMIN))).toBe(400);
    expect(await readFile(t.file, 'utf8')).toBe(TEXT);
  });

  it('keeps the secrets when the config is edited from its redacted text', async () => {
    const nc = await t.connect();
    const edited = redactConfigText(TEXT).replace('capacity: 2GiB', 'capacity: 3GiB');
    await requestConfigChange(nc, t.ns, { op: 'replace', text: edited, baseGeneration: 1 }, 5000, ADMIN);
    const text = await readFile(t.file, 'utf8');
    expect(text).toContain('capacity: 3GiB');
    for (const secret of SECRETS) expect(text).toContain(secret);
  });

  it('a service without an admin token fills the secrets from its own file, or refuses the generation', async () => {
    const own = await ConfigCache.start({ nc: await t.connect(), namespace: t.ns, env: false, localSecrets: () => parseYamlMapping(TEXT) });
    expect(own.current().s3.secretAccessKey).toBe(SECRETS[3]);
    expect(own.current().tokens[1]?.sha256).toBe(hashToken(READER));
    const admin = await ConfigCache.start({ nc: await t.connect(), namespace: t.ns, env: false, token: ADMIN });
    expect(admin.current().accessKeys[0]?.secretAccessKey).toBe(SECRETS[2]);
    const none = ConfigCache.start({ nc: await t.connect(), namespace: t.ns, env: false });
    await expect(none).rejects.toThrow(/serves .*redacted.*LARDER_TOKEN/);
    // A token added by an admin: a service reading its secrets from the same file (the stack) gets it; one with an older file refuses the generation.
    await requestConfigChange(await t.connect(), t.ns, { op: 'set', path: 'tokens.2', value: `{name: extra, token: extra-token-0000000007}` }, 5000, ADMIN);
    const fromFile = await ConfigCache.start({ nc: await t.connect(), namespace: t.ns, env: false, localSecrets: () => parseYamlMapping(readFileSync(t.file, 'utf8')) });
    expect(fromFile.current().tokens.map((x) => x.token ?? x.sha256)).toEqual([ADMIN, hashToken(READER), 'extra-token-0000000007']);
    await waitFor('the old file refuses generation 2', () => own.status().lastError?.includes('tokens.extra.token') ?? false);
    expect(own.generation).toBe(1);
    await Promise.all([own.stop(), admin.stop(), fromFile.stop()]);
  });
});

describe('config over NATS without tokens', () => {
  it('accepts changes from anyone, still serving no secrets', async () => {
    const nc = await t.connect();
    // Removing every token over NATS is refused (see above): the file is edited by hand.
    await svc.stop();
    const open = TEXT.replace(/tokens:\n.*\n.*\n/, '');
    await writeFile(t.file, open);
    svc = await startConfigService({ nc: await t.connect(), file: t.file, namespace: t.ns, ttlMs: 60_000, env: {} });
    await waitFor('no tokens', () => svc.snapshot().text === open);
    const r = await requestConfigChange(nc, t.ns, { op: 'set', path: 'capacity', value: '3GiB' });
    expect(r.unchanged).toBe(false);
    const reply = await requestConfig(nc, t.ns);
    noSecret(JSON.stringify(reply));
  });
});
