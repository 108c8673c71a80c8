import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicTrace } from './public.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-sim-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('public block traces', () => {
  it('maps MSR Cambridge requests to 4 MiB chunks, one lineage per disk', async () => {
    const file = path.join(dir, 'hm_0.csv');
    await writeFile(
      file,
      [
        '128166372003061629,hm,0,Read,0,4096,100',
        '128166372003061630,hm,0,Read,4190208,8192,100', // crosses into chunk 1
        '128166372003061631,hm,1,Write,0,512,100', // another disk: another chunk
        '128166372003061632,hm,0,Read,0,4096,100',
      ].join('\n'),
    );
    const t = await publicTrace({ path: file, format: 'msr', name: 'hm_0', source: 'test' }, 'fixed4m');
    expect(Array.from(t.refs)).toEqual([0, 1, 2, 0]);
    expect(t.uniqueBytes).toBe(3 * 4 * 1024 * 1024);
  });

  it('reads the CloudPhysics CSV (lbn in 512-byte sectors: sector 8192 starts chunk 1) and skips its header', async () => {
    const file = path.join(dir, 'cp.csv');
    await writeFile(file, 'version,time,op,size,lbn\n1,5633898,2a,512,0\n1,5633898,28,512,8191\n1,5633899,28,4096,8192\n');
    const t = await publicTrace({ path: file, format: 'cloudphysics', name: 'cp', source: 'test' }, 'fixed4m');
    expect(Array.from(t.refs)).toEqual([0, 1]);
  });

  it('refuses a file with no requests in the format', async () => {
    const file = path.join(dir, 'empty.csv');
    await writeFile(file, 'nothing here\n');
    await expect(publicTrace({ path: file, format: 'msr', name: 'e', source: 'test' }, 'fixed4m')).rejects.toThrow(/no requests/);
  });
});
