import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, readlinkSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeDataBlob } from '@larder/formats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpenChunkFiles, type ChunkOpener } from './open-chunk-files.js';

let dir: string;
let files: OpenChunkFiles | undefined;

/** Opens chunk files `<dir>/<digest>` for real, counting opens and reported reuses. */
function opener(): ChunkOpener & { opens: string[]; uses: string[]; gate?: Promise<void> } {
  const o: ChunkOpener & { opens: string[]; uses: string[]; gate?: Promise<void> } = {
    opens: [],
    uses: [],
    async open(_store, digest) {
      o.opens.push(digest);
      await o.gate;
      return { fd: openSync(path.join(dir, digest), 'r'), hit: true };
    },
    recordUse(key) {
      o.uses.push(key);
    },
  };
  return o;
}

/** Write a chunk file and return its name. */
function chunk(name: string, bytes: Buffer = randomBytes(1000)): Buffer {
  writeFileSync(path.join(dir, name), bytes);
  return bytes;
}

/** Where an fd points now ('' when closed): after an async close, give it a moment. */
async function target(fd: number): Promise<string> {
  await new Promise((r) => setTimeout(r, 20));
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
}

/** The fd's target once it no longer names `file` (closing is asynchronous: on a loaded machine it takes a while), or after 2 s. */
async function targetOnceClosed(fd: number, file: string): Promise<string> {
  for (let waited = 0; ; waited += 20) {
    const t = await target(fd);
    if (!t.includes(file) || waited >= 2000) return t;
  }
}

function readAll(fd: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  readSync(fd, b, 0, n, 0);
  return b;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'chunk-files-'));
});

afterEach(() => {
  files?.close();
  files = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('OpenChunkFiles', () => {
  it('opens a chunk once, reuses its fd and reports each reuse', async () => {
    const src = opener();
    files = new OpenChunkFiles(src, { idleMs: 0 });
    const plain = randomBytes(4096);
    chunk('a', encodeDataBlob(plain, { compress: false }));
    const [f1, f2] = await Promise.all([files.acquire('s', 'a'), files.acquire('s', 'a')]);
    const f3 = await files.acquire('s', 'a');
    expect(f1).toBe(f2);
    expect(f3).toBe(f1);
    expect(src.opens).toEqual(['a']);
    expect(src.uses).toEqual(['s/a']);
    expect(f1).toMatchObject({ key: 's/a', size: 12 + 4096, blob: 'plain' });
    for (const f of [f1, f2, f3]) files.release(f);
    expect(files.openCount).toBe(1);
  });

  it('tells the blob kind and size of each file', async () => {
    files = new OpenChunkFiles(opener(), { idleMs: 0 });
    chunk('z', encodeDataBlob(Buffer.alloc(65536, 7)));
    chunk('x', Buffer.from('tiny'));
    const z = await files.acquire('s', 'z');
    const x = await files.acquire('s', 'x');
    expect(z.blob).toBe('zstd');
    expect(x).toMatchObject({ blob: undefined, size: 4 });
    files.release(z);
    files.release(x);
  });

  it('closes the least recently used idle files beyond maxOpen, never one in use', async () => {
    const src = opener();
    files = new OpenChunkFiles(src, { maxOpen: 1, idleMs: 0 });
    const a = chunk('a');
    chunk('b');
    chunk('c');
    const held = await files.acquire('s', 'a');
    const b = await files.acquire('s', 'b');
    files.release(b);
    // 'a' is in use, so 'b' is the one closed to get back to one open file.
    expect(await targetOnceClosed(b.fd, path.join(dir, 'b'))).not.toBe(path.join(dir, 'b'));
    expect(await target(held.fd)).toBe(path.join(dir, 'a'));
    expect(readAll(held.fd, a.length).equals(a)).toBe(true);
    expect(files.openCount).toBe(1);
    files.release(held);
    expect(await target(held.fd)).toBe(path.join(dir, 'a')); // idle, within the limit: kept open
    const c = await files.acquire('s', 'c');
    files.release(c);
    expect(await targetOnceClosed(held.fd, path.join(dir, 'a'))).not.toBe(path.join(dir, 'a')); // least recently used: closed
    expect(await target(c.fd)).toBe(path.join(dir, 'c'));
    // Closed files are opened again when needed.
    const again = await files.acquire('s', 'a');
    expect(readAll(again.fd, a.length).equals(a)).toBe(true);
    expect(src.opens).toEqual(['a', 'b', 'c', 'a']);
    files.release(again);
  });

  it('opens a file only once when every other file is in use, and serves it', async () => {
    files = new OpenChunkFiles(opener(), { maxOpen: 1, idleMs: 0 });
    const a = chunk('a');
    const b = chunk('b');
    const fa = await files.acquire('s', 'a');
    void files.prefetch('s', 'b');
    const fb = await files.acquire('s', 'b'); // the prefetch's trim may close it first: opened again, once
    expect(readAll(fa.fd, a.length).equals(a) && readAll(fb.fd, b.length).equals(b)).toBe(true);
    files.release(fa);
    files.release(fb);
  });

  it('keeps reading an open chunk whose file was unlinked (evicted), then lets it go when idle', async () => {
    files = new OpenChunkFiles(opener(), { idleMs: 30 });
    const a = chunk('a', randomBytes(8192));
    const f = await files.acquire('s', 'a');
    unlinkSync(path.join(dir, 'a'));
    expect(readAll(f.fd, a.length).equals(a)).toBe(true);
    files.release(f);
    // Unused for one full sweep interval: closed, so the evicted file's space is given back.
    await new Promise((r) => setTimeout(r, 120));
    expect(files.openCount).toBe(0);
    expect(await targetOnceClosed(f.fd, path.join(dir, 'a'))).not.toContain(path.join(dir, 'a'));
  });

  it('opens a file again when it was written to after it was opened (size or mtime moved), but not when it was only unlinked', async () => {
    const src = opener();
    files = new OpenChunkFiles(src, { idleMs: 0 });
    chunk('a', randomBytes(4096));
    files.release(await files.acquire('s', 'a'));
    // Unchanged: the open file is used again.
    const kept = await files.acquire('s', 'a');
    files.release(kept);
    expect(src.opens).toEqual(['a']);
    // Written to (as bit rot by a stray write would be): dropped and opened again, through the opener (which verifies).
    await new Promise((r) => setTimeout(r, 20));
    const fd = openSync(path.join(dir, 'a'), 'r+');
    writeSync(fd, Buffer.from([1]), 0, 1, 100);
    closeSync(fd);
    const again = await files.acquire('s', 'a');
    expect(again).not.toBe(kept);
    expect(src.opens).toEqual(['a', 'a']);
    files.release(again);
    // Unlinked (evicted): its ctime moves, its content does not; the open file is still used.
    unlinkSync(path.join(dir, 'a'));
    files.release(await files.acquire('s', 'a'));
    expect(src.opens).toEqual(['a', 'a']);
    // forget() (a quarantine) drops it at once.
    files.forget('s/a');
    expect(files.openCount).toBe(0);
  });

  it('closes evicted files at once when idle and on release when in use; a later acquire opens them again', async () => {
    const src = opener();
    files = new OpenChunkFiles(src, { idleMs: 0 });
    const a = chunk('a', randomBytes(8192));
    chunk('b');
    chunk('c');
    const busy = await files.acquire('s', 'a');
    const idle = await files.acquire('s', 'b');
    files.release(idle);
    const kept = await files.acquire('s', 'c');
    files.release(kept);
    unlinkSync(path.join(dir, 'a'));
    unlinkSync(path.join(dir, 'b'));
    expect(files.evicted(['s/a', 's/b', 's/unknown'])).toBe(2);
    expect(files.openCount).toBe(1);
    expect(await targetOnceClosed(idle.fd, path.join(dir, 'b'))).not.toContain(path.join(dir, 'b'));
    // The read in progress still reads its (unlinked) file whole; the fd goes with the last reference.
    expect(await target(busy.fd)).toContain(path.join(dir, 'a'));
    expect(readAll(busy.fd, a.length).equals(a)).toBe(true);
    files.release(busy);
    expect(await targetOnceClosed(busy.fd, path.join(dir, 'a'))).not.toContain(path.join(dir, 'a'));
    expect(await target(kept.fd)).toBe(path.join(dir, 'c'));
    const b2 = chunk('b');
    const again = await files.acquire('s', 'b');
    expect(readAll(again.fd, b2.length).equals(b2)).toBe(true);
    files.release(again);
    expect(src.opens).toEqual(['a', 'b', 'c', 'b']);
  });

  it('bounds the opens prefetch starts and returns files already open', async () => {
    const src = opener();
    let release!: () => void;
    src.gate = new Promise<void>((r) => (release = r));
    files = new OpenChunkFiles(src, { maxPrefetching: 2, idleMs: 0 });
    for (const n of ['a', 'b', 'c']) chunk(n);
    const pa = files.prefetch('s', 'a');
    const pb = files.prefetch('s', 'b');
    expect(pa).toBeInstanceOf(Promise);
    expect(files.prefetch('s', 'a')).toBe(pa); // already under way: the same open
    expect(files.prefetch('s', 'c')).toBeUndefined(); // two under way: refused
    expect(files.prefetchingCount).toBe(2);
    release();
    await Promise.all([pa, pb]);
    expect(files.prefetchingCount).toBe(0);
    const open = files.prefetch('s', 'a');
    expect(open).not.toBeInstanceOf(Promise);
    expect(open).toMatchObject({ key: 's/a' });
    // A prefetched file is used without another open.
    files.release(await files.acquire('s', 'b'));
    expect(src.opens).toEqual(['a', 'b']);
  });

  it('does not keep a failed open, and close() closes idle files at once and busy ones on release', async () => {
    files = new OpenChunkFiles(opener(), { idleMs: 0 });
    await expect(files.acquire('s', 'missing')).rejects.toThrow(/ENOENT/);
    expect(files.openCount).toBe(0);
    chunk('a');
    chunk('b');
    const busy = await files.acquire('s', 'a');
    const idle = await files.acquire('s', 'b');
    files.release(idle);
    files.close();
    expect(await target(idle.fd)).not.toBe(path.join(dir, 'b'));
    expect(await target(busy.fd)).toBe(path.join(dir, 'a'));
    files.release(busy);
    expect(await target(busy.fd)).not.toBe(path.join(dir, 'a'));
    expect(files.prefetch('s', 'a')).toBeUndefined();
  });
});
