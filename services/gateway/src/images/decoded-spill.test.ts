import { mkdtempSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DecodedSpill, SPILL_BLOCK } from './decoded-spill.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'larder-spill-'));
  dirs.push(d);
  return path.join(d, 'decoded-spill');
}

/** Wait until the spill holds `key` (its write runs in the thread pool). */
async function held(s: DecodedSpill, key: string): Promise<void> {
  for (let i = 0; i < 200 && !s.has(key); i++) await new Promise((r) => setTimeout(r, 5));
  expect(s.has(key)).toBe(true);
}

function readExtent(s: DecodedSpill, key: string): Buffer | undefined {
  const e = s.acquire(key);
  if (!e) return undefined;
  try {
    const out = Buffer.alloc(e.length);
    expect(readSync(e.fd, out, 0, e.length, e.offset)).toBe(e.length);
    return out;
  } finally {
    s.release(e);
  }
}

describe('DecodedSpill', () => {
  it('gives back the bytes put, from files that are already unlinked', async () => {
    const s = new DecodedSpill(tmp(), () => 1 << 20, { segmentBytes: 4096 });
    const a = Buffer.alloc(3000, 7);
    const b = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 255));
    s.put('st/a', a);
    s.put('st/b', b);
    await held(s, 'st/a');
    await held(s, 'st/b');
    expect(readExtent(s, 'st/a')).toEqual(a);
    expect(readExtent(s, 'st/b')).toEqual(b);
    expect(readExtent(s, 'st/c')).toBeUndefined();
    expect(readdirSync(path.dirname(path.join(dirs[0] as string, 'decoded-spill', 'x')))).toEqual([]);
    s.close();
  });

  it('drops the oldest segment past the budget, and keeps an extent readable until released', async () => {
    const s = new DecodedSpill(tmp(), () => 8192, { segmentBytes: 4096 });
    const first = Buffer.alloc(4096, 1);
    s.put('k0', first);
    await held(s, 'k0');
    const e = s.acquire('k0');
    expect(e).toBeDefined();
    for (let i = 1; i <= 3; i++) {
      s.put(`k${i}`, Buffer.alloc(4096, i + 1));
      await held(s, `k${i}`);
    }
    expect(s.usedBytes).toBeLessThanOrEqual(8192);
    expect(s.has('k0')).toBe(false);
    // Dropped, but its file stays open for the read in progress.
    const out = Buffer.alloc(4096);
    readSync(e!.fd, out, 0, 4096, e!.offset);
    expect(out).toEqual(first);
    s.release(e!);
    expect(readExtent(s, 'k3')).toEqual(Buffer.alloc(4096, 4));
    s.close();
  });

  it('verifies an extent whole against its blocks’ CRCs; one that rotted on the volume is dropped and counted once', async () => {
    let events = 0;
    const s = new DecodedSpill(tmp(), () => 2 ** 20, { onCorrupt: () => events++ });
    const data = Buffer.from(Array.from({ length: 3 * SPILL_BLOCK + 1000 }, (_, i) => (i * 7) & 255)); // a short last block
    const other = Buffer.alloc(5000, 'q');
    s.put('st/a', data);
    s.put('st/b', other);
    await held(s, 'st/a');
    await held(s, 'st/b');
    expect(
      s
        .held()
        .map((e) => e.key)
        .sort(),
    ).toEqual(['st/a', 'st/b']);
    const buf = Buffer.alloc(data.length);
    const e = s.acquire('st/a')!;
    expect(await s.verify(e, buf)).toBe(true);
    expect(buf.equals(data)).toBe(true);
    // A bit flipped on the volume in the short last block (the segment is unlinked: written through its descriptor).
    const at = 3 * SPILL_BLOCK + 500;
    writeSync(e.fd, Buffer.from([data[at]! ^ 0x10]), 0, 1, e.offset + at);
    expect(await s.verify(e, buf)).toBe(false);
    expect(s.has('st/a')).toBe(false);
    // Checked again by someone who still held it: still corrupt, counted once.
    expect(await s.verify(e, buf)).toBe(false);
    s.release(e);
    expect(s.corrupt).toBe(1);
    expect(events).toBe(1);
    expect(readExtent(s, 'st/b')).toEqual(other);
    // Written again (as after the reader decoded it anew), it reads back right.
    s.put('st/a', data);
    await held(s, 'st/a');
    expect(readExtent(s, 'st/a')).toEqual(data);
    const again = s.acquire('st/a')!;
    expect(await s.verify(again, buf)).toBe(true);
    s.release(again);
    s.close();
  });

  it('keeps nothing with a budget of 0', async () => {
    const s = new DecodedSpill(tmp(), () => 0);
    s.put('k', Buffer.alloc(10));
    await new Promise((r) => setTimeout(r, 20));
    expect(s.has('k')).toBe(false);
    expect(s.usedBytes).toBe(0);
  });
});
