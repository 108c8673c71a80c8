import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDemoImage } from './demo-image.js';
import { startTestStack, type TestStack } from './test-stack.js';

const run = promisify(execFile);
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ fetchers: 2 });
});
afterAll(() => stack?.cleanup());

describe('casync through Larder', () => {
  it('casync make, larder push-casync, casync extract through the gateway: byte for byte', async () => {
    const work = path.join(stack.dir, 'casync');
    await mkdir(work, { recursive: true });
    const image = path.join(work, 'disk.img');
    await makeDemoImage(image, 24);
    const store = path.join(work, 'store.castr');
    const index = path.join(work, 'disk.caibx');
    await run('casync', ['make', `--store=${store}`, index, image]);

    const push = await stack.cli(['push-casync', store, '--index', index, '--store', 'cas']);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/pushed \d+ chunks to cas/);
    expect(push.stdout).toMatch(/disk\.caibx/);

    const out = path.join(work, 'out.img');
    await run('casync', ['extract', `--store=${stack.gateway()}/casync/cas/`, index, out], { maxBuffer: 2 ** 26 });
    expect((await readFile(out)).equals(await readFile(image))).toBe(true);
    const status = JSON.parse((await stack.cli(['status', '--json'])).stdout);
    expect(status.misses).toBeGreaterThan(0);
  });

  it('push-casync refuses a corrupt chunk store and a pbs datastore', async () => {
    const bad = await stack.cli(['push-casync', path.join(stack.dir, 'nowhere'), '--store', 'cas']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cannot read casync store/);
    const wrong = await stack.cli(['push-casync', stack.dir, '--store', 'demo']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/pbs layout/);
    const unknown = await stack.cli(['push-casync', stack.dir, '--store', 'zzz']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown datastore "zzz"/);
  });
});
