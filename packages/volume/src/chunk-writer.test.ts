import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkWriter, type ChunkWriterSettings, type RoomRequest } from './chunk-writer.js';
import { Volume } from './volume.js';

const dir = mkdtempSync(path.join(tmpdir(), 'larder-chunk-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const digest = () => randomBytes(32).toString('hex');

/** A writer on its own volume whose settings and room requests the test controls. */
function writer(settings: ChunkWriterSettings, onRoom: (req: RoomRequest) => void = () => {}) {
  const volume = new Volume(dir, `v${randomBytes(4).toString('hex')}`, { fsync: false });
  const requests: RoomRequest[] = [];
  const w = new ChunkWriter({
    volume,
    settings: () => settings,
    requestRoom: async (req) => {
      requests.push(req);
      onRoom(req);
    },
  });
  return { w, volume, requests };
}

/** A reserve 64 MiB above the filesystem's free space: nothing fits now, yet a small write could once room is made. */
async function fullReserve(): Promise<number> {
  const fs = await new Volume(dir, 'probe').filesystem();
  return Math.min(0.999, (fs.freeBytes + 64 * 2 ** 20) / fs.totalBytes);
}

describe('ChunkWriter', () => {
  it('writes a chunk atomically when there is room', async () => {
    const { w, volume, requests } = writer({ reserve: 0, capacity: 2 ** 30, timeoutMs: 1000 });
    const d = digest();
    const body = randomBytes(5000);
    await w.write('demo', d, body);
    expect(readFileSync(volume.chunkPath('demo', d)).equals(body)).toBe(true);
    expect(requests).toHaveLength(0);
  });

  it('refuses at once with 507 a chunk that can never fit', async () => {
    const { w, volume, requests } = writer({ reserve: 1, capacity: 2 ** 30, timeoutMs: 1000 });
    const d = digest();
    await expect(w.write('demo', d, randomBytes(100))).rejects.toMatchObject({ status: 507, message: expect.stringContaining('can never fit') });
    expect(requests).toHaveLength(0);
    expect(existsSync(volume.chunkPath('demo', d))).toBe(false);
  });

  it('asks for room when full, shares the request among waiting writes, and writes once room is made', async () => {
    const settings = { reserve: await fullReserve(), capacity: 2 ** 30, timeoutMs: 5000 };
    const { w, volume, requests } = writer(settings, () => {
      settings.reserve = 0;
    });
    const ds = [digest(), digest(), digest()];
    await Promise.all(ds.map((d) => w.write('demo', d, randomBytes(1000))));
    for (const d of ds) expect(existsSync(volume.chunkPath('demo', d))).toBe(true);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ roomBytes: 3000, largestBytes: 1000 });
  });

  it('gives up with 503 naming the volume when no room comes in time', async () => {
    const { w, volume, requests } = writer({ reserve: await fullReserve(), capacity: 2 ** 30, timeoutMs: 200 });
    const d = digest();
    await expect(w.write('demo', d, randomBytes(1000))).rejects.toMatchObject({ status: 503, message: expect.stringContaining(`volume full: no room for chunk ${d}`) });
    expect(requests.length).toBeGreaterThan(0);
    expect(existsSync(volume.chunkPath('demo', d))).toBe(false);
  });
});
