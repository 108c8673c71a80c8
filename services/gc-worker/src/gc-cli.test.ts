import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from '@larder/config';
import { createRedis } from '@larder/redis';
import { connectNodeDeps, type NodeDeps } from '@larder/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcWorker, type GcWorker } from './gc-service.js';
import { StandInEngine } from './test-engine.js';

const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
const ns = `t${randomBytes(5).toString('hex')}`;
let dir: string;
let file: string;
let config: Config;
let deps: NodeDeps;
let worker: GcWorker | undefined;
const engine = new StandInEngine({ stepMs: 20 });

/** Run the real `larder` CLI against this namespace. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliMain, ...args], { env: { ...process.env, LARDER_CONFIG: file } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), `larder-gc-cli-${ns}-`));
  const raw = {
    namespace: ns,
    volume: { path: path.join(dir, 'volume') },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    datastores: { a: { layout: 'pbs', bucket: `${ns}-a`, owned: true }, b: { layout: 'casync', bucket: `${ns}-b` } },
  };
  config = parseConfig(raw);
  file = path.join(dir, 'larder.yaml');
  // JSON is YAML.
  await writeFile(file, JSON.stringify(raw));
  deps = await connectNodeDeps(config, 'gc-cli-test');
});

afterAll(async () => {
  await worker?.stop();
  await deps.close();
  const redis = createRedis({ url: config.redis.url });
  const keys = await redis.keys(`{${ns}}:*`);
  if (keys.length) await redis.unlink(...keys);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

describe('larder gc', () => {
  it('says clearly when no gc-worker answers', async () => {
    const r = await cli(['gc', 'status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/larder gc: no gc-worker answers in namespace t[0-9a-f]+ .*Start one with/);
    expect((await cli(['gc', 'frobnicate'])).code).toBe(2);
  });

  it('runs a dry run of every datastore with progress, then shows the status', async () => {
    worker = await startGcWorker({ ...deps, config: () => config, engine });
    const r = await cli(['gc', 'run']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/dry run: nothing is removed/);
    expect(r.stderr).toMatch(/a: \[[#.]+\] mark \(2\/5\)/);
    expect(r.stdout).toMatch(
      /a: dry run done in [\d.]+ s on \S+\n {2}4 indexes read, 100 chunks referenced\n {2}cache: would remove 7 chunks \(28(\.00?)? KiB\)\n {2}S3: would delete 5 chunks .* kept 2 by the grace period, 1 touched by writers/,
    );
    expect(r.stdout).toMatch(/b: dry run done .*\n.*\n.*\n {2}S3: not swept \(not owned\)/);
    expect(engine.started.map((s) => [s.store, s.apply])).toEqual([
      ['a', false],
      ['b', false],
    ]);
    const s = await cli(['gc', 'status']);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/no GC running/);
    expect(s.stdout).toMatch(/last {5}\S+ {2}a: dry run done/);
  });

  it('applies one datastore, and cancels a run in progress', async () => {
    const applied = await cli(['gc', 'run', '--store', 'a', '--apply']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/a: GC done .*\n.*\n {2}cache: removed 7 chunks/);
    engine.hold('b');
    const detached = await cli(['gc', 'run', '--store', 'b', '--detach']);
    expect(detached.stdout).toMatch(/b: started run \S+ on /);
    const refused = await cli(['gc', 'run', '--store', 'b']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`GC of b: already running on ${worker!.id}`));
    const status = await cli(['gc', 'status']);
    expect(status.stdout).toMatch(/running {2}b: \[/);
    const c = await cli(['gc', 'cancel', '--store', 'b']);
    expect(c.stdout).toMatch(/b: cancelling run /);
    const none = await cli(['gc', 'cancel', '--store', 'a']);
    expect(none.stdout).toMatch(/no GC of a is running/);
    const unknown = await cli(['gc', 'cancel', '--store', 'zz']);
    expect(unknown.stderr).toMatch(/no datastore named zz/);
  });
});
