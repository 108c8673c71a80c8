import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { listObjects, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noise } from './demo-image.js';
import { TEST_KEY, awsEnv, runTool, s3EndpointOf, startS3TestStack } from './s3-endpoint-testing.js';
import type { TestStack } from './test-stack.js';

// restic keeps its repository in the client bucket `backups` through Larder; the datastore `backups` (layout restic)
// holds it in the upstream bucket `backups-up`. Pack files (`data/<2 hex>/<sha256>`) are cached like chunks; the rest
// of the repository passes through.
let stack: TestStack;
let endpoint: string;
let work: string;
let source: string;

beforeAll(async () => {
  stack = await startS3TestStack({ backups: { layout: 'restic', bucket: 'backups-up', clientBucket: 'backups' } });
  endpoint = s3EndpointOf(stack.gateways[0]);
  work = path.join(stack.dir, 'restic');
  source = path.join(work, 'src');
  await makeTree(source);
}, 120_000);
afterAll(() => stack?.cleanup());

/** Text that compresses like logs do. */
function logText(seed: number, lines: number): string {
  const words = ['restore', 'backup', 'pack', 'index', 'snapshot', 'larder', 'cache', 'verify'];
  return Array.from({ length: lines }, (_, i) => `${i} ${words[(seed + i * 7) % words.length]} ${((seed * 7919 + i * 104729) >>> 0).toString(16)}`).join('\n');
}

/** A few MiB of realistic files: logs, config, incompressible media, duplicates, nested folders, an empty file. */
async function makeTree(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'etc/app'), { recursive: true });
  await mkdir(path.join(dir, 'var/log'), { recursive: true });
  await mkdir(path.join(dir, 'home/user/photos'), { recursive: true });
  await writeFile(path.join(dir, 'etc/hostname'), 'restic-through-larder\n');
  await writeFile(path.join(dir, 'etc/app/config.yaml'), 'listen: 127.0.0.1:8080\nworkers: 4\n');
  for (let i = 0; i < 4; i++) await writeFile(path.join(dir, `var/log/app.${i}.log`), logText(i, 20_000));
  for (let i = 0; i < 3; i++) await writeFile(path.join(dir, `home/user/photos/img-${i}.jpg`), noise(`photo-${i}`, 1_500_000 + i * 77_777));
  const shared = noise('shared', 1_000_000);
  await writeFile(path.join(dir, 'home/user/a.bin'), shared);
  await writeFile(path.join(dir, 'home/user/b.bin'), shared);
  await writeFile(path.join(dir, 'home/user/empty'), '');
}

/** Relative path → SHA-256 of every file under a folder. */
async function treeDigest(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const rel of await readdir(dir, { recursive: true })) {
    const file = path.join(dir, String(rel));
    if ((await stat(file)).isFile())
      out.set(
        String(rel),
        createHash('sha256')
          .update(await readFile(file))
          .digest('hex'),
      );
  }
  return out;
}

const restic = (args: string[], timeoutMs = 240_000) =>
  runTool('restic', ['--no-cache', '-o', 's3.region=us-east-1', '-r', `s3:${endpoint}/backups`, ...args], {
    timeoutMs,
    env: { ...awsEnv(TEST_KEY, work), RESTIC_PASSWORD: 'larder-restic-test', HOME: work },
  });

/** Upstream GETs of the repository's pack files since the last reset. */
function packGets(): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, n] of stack.s3?.stats.getsByKey ?? []) if (key.startsWith('backups-up/data/')) out.set(key, n);
  return out;
}

describe('restic with its repository in a datastore bucket through Larder', () => {
  it('init, backup, a second backup, check --read-data, restore byte for byte; the second restore reads no pack file from S3', async () => {
    const init = await restic(['init']);
    expect(init.code, init.stderr).toBe(0);

    const first = await restic(['backup', '--host', 'larder-test', source]);
    expect(first.code, first.stderr).toBe(0);
    await writeFile(path.join(source, 'var/log/app.0.log'), logText(99, 30_000));
    await writeFile(path.join(source, 'home/user/new.bin'), noise('new', 700_000));
    const second = await restic(['backup', '--host', 'larder-test', source]);
    expect(second.code, second.stderr).toBe(0);
    const snapshots = await restic(['snapshots', '--json']);
    expect(snapshots.code, snapshots.stderr).toBe(0);
    expect((JSON.parse(snapshots.stdout) as unknown[]).length).toBe(2);

    // The repository is where the datastore says: pack files at data/ in the upstream bucket.
    const packs: string[] = [];
    for await (const o of listObjects(s3ClientFor(stack.ds('backups')), 'backups-up', 'data/')) packs.push(o.key);
    expect(packs.length).toBeGreaterThan(0);

    stack.s3?.resetStats();
    const check = await restic(['check', '--read-data']);
    expect(check.code, check.stderr + check.stdout).toBe(0);
    expect(check.stdout).toMatch(/no errors were found/);
    // Pack files written through Larder are admitted to the cache: reading all data fetches each at most once.
    for (const [key, n] of packGets()) expect(n, key).toBeLessThanOrEqual(1);

    const want = await treeDigest(source);
    const target1 = path.join(work, 'restore-1');
    const r1 = await restic(['restore', 'latest', '--target', target1]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(await treeDigest(path.join(target1, source))).toEqual(want);

    stack.s3?.resetStats();
    const target2 = path.join(work, 'restore-2');
    const r2 = await restic(['restore', 'latest', '--target', target2]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(await treeDigest(path.join(target2, source))).toEqual(want);
    expect([...packGets().entries()]).toEqual([]);
    // The rest of the repository (config, keys, index, snapshots) passes through to S3.
    expect(stack.s3?.stats.objectGets).toBeGreaterThan(0);
  }, 600_000);
});
