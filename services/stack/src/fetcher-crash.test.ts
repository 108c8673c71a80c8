import { spawn, type ChildProcess } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

const fetcherMain = fileURLToPath(new URL('../../chunk-fetcher/dist/main.js', import.meta.url));

let stack: TestStack;
let child: ChildProcess | undefined;
beforeAll(async () => {
  // No in-process fetcher: the only fetcher at first is the child process we kill.
  stack = await startTestStack({ fetchers: 0 });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await stack?.cleanup();
});

describe('a fetcher killed mid-write', () => {
  it('never leaves a partial file to be served', async () => {
    const plain = randomBytes(16 * 2 ** 20 - 1000);
    const { digest, bytes } = await stack.putChunk('demo', plain);
    const file = await stack.writeConfigFile();
    const shard = path.dirname(stack.deps.volume.chunkPath('demo', digest));
    await mkdir(shard, { recursive: true });
    // Kill the fetcher the moment its temp file appears: it is writing.
    let killedMidWrite = false;
    const watcher = watch(shard, (_event, name) => {
      if (String(name).startsWith('.tmp-') && child && !killedMidWrite) {
        killedMidWrite = true;
        child.kill('SIGKILL');
      }
    });
    child = spawn(process.execPath, [fetcherMain], { env: { ...process.env, LARDER_CONFIG: file }, stdio: 'ignore' });
    const running = child;
    const exited = new Promise((r) => running.once('exit', r));
    // Wait until the child fetcher answers, then ask for the chunk through the gateway.
    for (let i = 0; i < 100; i++) {
      const s = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/status`)).body.toString());
      if (s.fetchersOnline > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const first = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`);
    await exited;
    watcher.close();
    expect(killedMidWrite).toBe(true);
    expect(first.status).not.toBe(200);
    // Nothing partial at the chunk's path: either no file, or (if the rename won the race) the whole verified chunk.
    expect([undefined, bytes.length]).toContain(await stack.deps.volume.chunkSize('demo', digest));
    // A new fetcher takes over once the dead one's lock expires, and the chunk is served whole.
    stack.fetchers.push(await (await import('@larder/chunk-fetcher')).startChunkFetcher({ ...stack.deps, config: () => stack.config }));
    const second = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`);
    expect(second.status).toBe(200);
    expect(second.body.equals(bytes)).toBe(true);
    // The dead writer's temp file (if the kill beat the rename) is swept once it is old enough.
    await stack.deps.volume.sweepTempFiles(0);
    expect((await readdir(shard)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });
});
