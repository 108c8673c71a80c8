import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Deterministic pseudo-random bytes (incompressible, like media or encrypted files). */
export function noise(seed: string, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let block = createHash('sha256').update(seed).digest();
  for (let o = 0; o < bytes; o += 32) {
    block.copy(out, o, 0, Math.min(32, bytes - o));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Text that compresses like logs and source files do. */
function text(seed: number, lines: number): string {
  const words = ['cache', 'chunk', 'restore', 'backup', 'volume', 'digest', 'image', 'fetch', 'index', 'larder', 'block', 'sector'];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = (seed * 7919 + i * 104729) >>> 0;
    out.push(`${String(i).padStart(6, '0')} ${words[n % words.length]} ${words[(n >>> 4) % words.length]} ${n.toString(16)}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Make a demo disk image of realistic content: an ext4 filesystem (mkfs.ext4 -d) holding text files,
 * incompressible files, several copies of one file (repeated chunks) and free space (zero regions).
 * The size is deliberately not a multiple of the 4 MiB chunk size.
 */
export async function makeDemoImage(outFile: string, sizeMiB = 64): Promise<void> {
  const tree = await mkdtemp(path.join(os.tmpdir(), 'larder-demo-'));
  try {
    await mkdir(path.join(tree, 'etc'), { recursive: true });
    await mkdir(path.join(tree, 'var/log'), { recursive: true });
    await mkdir(path.join(tree, 'srv/media'), { recursive: true });
    await mkdir(path.join(tree, 'home/demo'), { recursive: true });
    await writeFile(path.join(tree, 'etc/hostname'), 'larder-demo\n');
    for (let i = 0; i < 8; i++) await writeFile(path.join(tree, `var/log/app.${i}.log`), text(i, sizeMiB * 250));
    // Content scales with the image: about half of it used, the rest free space (zeros).
    const unit = Math.floor((sizeMiB * 2 ** 20) / 12);
    for (let i = 0; i < 3; i++) await writeFile(path.join(tree, `srv/media/video-${i}.bin`), noise(`media-${i}`, unit));
    const shared = noise('shared', Math.floor(unit * 0.75));
    for (let i = 0; i < 3; i++) await writeFile(path.join(tree, `home/demo/copy-${i}.img`), shared);
    await mkdir(path.dirname(outFile), { recursive: true });
    await rm(outFile, { force: true });
    const blocks = sizeMiB * 256 + 3; // 4 KiB blocks: a few past a chunk boundary
    try {
      await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'root_owner=0:0', '-d', tree, outFile, String(blocks)]);
    } catch (err) {
      throw new Error(`mkfs.ext4 failed (install e2fsprogs): ${(err as Error).message}`, { cause: err });
    }
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}
