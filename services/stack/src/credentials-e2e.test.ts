import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOwnNats, type OwnNats } from '@larder/bus/testing';
import { importRawImage } from '@larder/datastore';
import { startOwnRedis, type OwnRedis } from '@larder/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessStack, type ProcessStack } from './test-processes.js';

// A node whose services run as processes against a Redis with a password and a NATS on infra/nats/nats.conf (users
// larder and admin), the credentials in the environment as the compose deployment gives them.
const REDIS_SECRET = 'redis-pw-stack-6e1f0a';
const NATS_SECRET = 'nats-pw-stack-2c7d94';
const ADMIN_SECRET = 'nats-admin-stack-9a3b57';
const natsConf = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../infra/nats/nats.conf');
const gatewayMain = fileURLToPath(new URL('../../gateway/dist/main.js', import.meta.url));
const scratch = mkdtempSync(path.join(tmpdir(), 'larder-creds-stack-'));
let redis: OwnRedis;
let nats: OwnNats;
let stack: ProcessStack;
const image = Buffer.concat([randomBytes(6 * 2 ** 20), Buffer.alloc(2 * 2 ** 20, 'creds ')]);

beforeAll(async () => {
  redis = await startOwnRedis({ password: REDIS_SECRET });
  nats = await startOwnNats({ configFile: natsConf, env: { LARDER_NATS_PASSWORD: NATS_SECRET, LARDER_NATS_ADMIN_PASSWORD: ADMIN_SECRET } });
  stack = await startProcessStack({
    fetchers: 1,
    redis: redis.url,
    nats: nats.url,
    env: { LARDER_REDIS_PASSWORD: REDIS_SECRET, LARDER_NATS_USER: 'larder', LARDER_NATS_PASSWORD: NATS_SECRET },
  });
  const file = path.join(stack.dir, 'creds.raw');
  await writeFile(file, image);
  await importRawImage({ ds: stack.ds('demo'), file, name: 'creds' });
}, 120_000);
afterAll(async () => {
  await stack?.cleanup();
  await nats?.stop();
  await redis?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Every service's output so far. */
function serviceOutput(): string {
  return [...Object.values(stack.services), ...stack.fetchers].map((s) => s.output()).join('\n');
}

describe('a node on a Redis and a NATS with credentials', () => {
  it('restores an image (misses fetched over NATS, indexed in Redis), and no secret reaches the logs', async () => {
    const out = path.join(scratch, 'creds.restored');
    const r = await stack.cli(['restore', 'demo/creds.fidx', out]).done;
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(out)).equals(image)).toBe(true);
    const status = (await (await fetch(`${stack.gatewayUrl}/v1/status`)).json()) as { fetchersOnline?: number };
    expect(status.fetchersOnline).toBe(1);
    const text = serviceOutput() + r.stderr + JSON.stringify(status);
    for (const s of [REDIS_SECRET, NATS_SECRET, ADMIN_SECRET]) expect(text).not.toContain(s);
  });

  it('config changes: refused to the services user, applied for the admin', async () => {
    const asService = await stack.cli(['config', 'set', 'fetcher.concurrency', '7']).done;
    expect(asService.code).not.toBe(0);
    expect(asService.stderr).toMatch(/not allowed to change the config/);
    const asAdmin = await stack.cli(['config', 'set', 'fetcher.concurrency', '7'], { LARDER_NATS_USER: 'admin', LARDER_NATS_PASSWORD: ADMIN_SECRET }).done;
    expect(asAdmin.code, asAdmin.stderr).toBe(0);
    const got = await stack.cli(['config', 'get', 'fetcher.concurrency']).done;
    expect(got.stdout.trim()).toBe('7');
    for (const s of [REDIS_SECRET, NATS_SECRET, ADMIN_SECRET]) expect(asService.stderr + asAdmin.stdout + asAdmin.stderr + got.stdout).not.toContain(s);
  });

  it('a gateway with a wrong Redis password does not start, and says which server refused', async () => {
    const wrong = 'wrong-redis-pw-55aa';
    const child = spawn(process.execPath, [gatewayMain], {
      env: {
        ...process.env,
        LARDER_CONFIG: stack.configFile,
        LARDER_REDIS_PASSWORD: wrong,
        LARDER_NATS_USER: 'larder',
        LARDER_NATS_PASSWORD: NATS_SECRET,
        LARDER_GATEWAY_LISTEN: '127.0.0.1:0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).not.toBe(0);
    expect(output).toContain(`Redis at 127.0.0.1:${redis.port} refused the connection (WRONGPASS`);
    expect(output).not.toContain(wrong);
    expect(output).not.toContain(NATS_SECRET);
  });
});
