import { describe, expect, it } from 'vitest';
import { REDACTED, fillRedacted, parseRedactedConfig, redactConfig, redactConfigText, redactUrl, redactedSecrets, restoreRedactedText } from './index.js';

const SECRETS = ['tok-admin-0123456789', 'a'.repeat(64), 'keysecret-xyz', 's3-secret-abc', 'ds-secret-def', 'redis-pw', 'nats-pw', 'nats-tok', 'url-pw'];

const TEXT = `# comment kept
tokens:
  - { name: ops, token: ${SECRETS[0]}, scope: admin }
  - name: reader
    sha256: ${SECRETS[1]}
accessKeys:
  - { accessKeyId: host1, secretAccessKey: ${SECRETS[2]} }
s3: { accessKeyId: AK, secretAccessKey: ${SECRETS[3]} }
redis: { url: "redis://app:${SECRETS[8]}@redis:6379", password: ${SECRETS[5]} }
nats: { servers: ["nats://n1:4222", "nats://${SECRETS[7]}@n2:4222"], pass: ${SECRETS[6]}, token: ${SECRETS[7]} }
datastores:
  demo: { layout: pbs, bucket: larder-demo, secretAccessKey: ${SECRETS[4]} }
`;

function raw(): Record<string, unknown> {
  return {
    tokens: [
      { name: 'ops', token: SECRETS[0], scope: 'admin' },
      { name: 'reader', sha256: SECRETS[1] },
    ],
    accessKeys: [{ accessKeyId: 'host1', secretAccessKey: SECRETS[2] }],
    s3: { accessKeyId: 'AK', secretAccessKey: SECRETS[3] },
    redis: { url: `redis://app:${SECRETS[8]}@redis:6379`, password: SECRETS[5] },
    nats: { servers: ['nats://n1:4222', `nats://${SECRETS[7]}@n2:4222`], pass: SECRETS[6], token: SECRETS[7] },
    datastores: { demo: { layout: 'pbs', bucket: 'larder-demo', secretAccessKey: SECRETS[4] } },
  };
}

const noSecret = (s: string) => {
  for (const secret of SECRETS) expect(s).not.toContain(secret);
};

describe('redaction', () => {
  it('redacts every secret of a mapping, keeping names and the rest', () => {
    const r = redactConfig(raw()) as Record<string, Record<string, unknown>> & { datastores: Record<string, Record<string, unknown>> };
    noSecret(JSON.stringify(r));
    expect(r.tokens).toEqual([
      { name: 'ops', token: REDACTED, scope: 'admin' },
      { name: 'reader', sha256: REDACTED },
    ]);
    expect(r.redis).toEqual({ url: `redis://app:${REDACTED}@redis:6379`, password: REDACTED });
    expect(r.nats?.servers).toEqual(['nats://n1:4222', `nats://${REDACTED}@n2:4222`]);
    expect(r.datastores.demo?.bucket).toBe('larder-demo');
    expect(redactedSecrets(r).sort()).toEqual(
      [
        'accessKeys.host1.secretAccessKey',
        'datastores.demo.secretAccessKey',
        'nats.pass',
        'nats.servers',
        'nats.token',
        'redis.password',
        'redis.url',
        's3.secretAccessKey',
        'tokens.ops.token',
        'tokens.reader.sha256',
      ].sort(),
    );
  });

  it('redacts the text, keeping its comments', () => {
    const text = redactConfigText(TEXT);
    noSecret(text);
    expect(text).toContain('# comment kept');
    expect(text).toContain(REDACTED);
  });

  it('redacts URL passwords only', () => {
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('rediss://:pw@h:1/0')).toBe(`rediss://:${REDACTED}@h:1/0`);
  });

  it('fills redacted secrets from a local mapping by name, and reports what it lacks', () => {
    const local = raw();
    (local.tokens as unknown[]).reverse(); // order does not matter: items are matched by name
    const filled = fillRedacted(redactConfig(raw()), local);
    expect(filled).toEqual(raw());
    const partial = fillRedacted(redactConfig(raw()), { s3: { secretAccessKey: 'x' } });
    expect(redactedSecrets(partial)).not.toContain('s3.secretAccessKey');
    expect(redactedSecrets(partial)).toContain('tokens.ops.token');
  });

  it('puts secrets back into an edited redacted text, and refuses marks it cannot fill', () => {
    const edited = redactConfigText(TEXT).replace('larder-demo', 'larder-other');
    const back = restoreRedactedText(edited, raw());
    expect(back.missing).toEqual([]);
    expect(back.text).toContain('larder-other');
    for (const secret of SECRETS) expect(back.text).toContain(secret);
    const added = `${redactConfigText(TEXT)}\n`.replace('tokens:\n', `tokens:\n  - { name: new, token: ${REDACTED} }\n`);
    expect(restoreRedactedText(added, raw()).missing).toEqual(['tokens.new.token']);
  });

  it('reads a redacted mapping with defaults, secrets still redacted', () => {
    const c = parseRedactedConfig({ tokens: [{ name: 'reader', sha256: REDACTED }], s3: { secretAccessKey: REDACTED } });
    expect(c.tokens[0]).toEqual({ name: 'reader', sha256: REDACTED, scope: 'read', datastores: ['*'] });
    expect(c.s3.secretAccessKey).toBe(REDACTED);
  });
});
