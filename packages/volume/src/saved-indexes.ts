import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';

/** Bounds of the saved index copies: a copy larger than `maxIndexBytes` is not kept; past `maxTotalBytes` or `maxCount` the least recently saved go first. */
export interface SavedIndexLimits {
  maxIndexBytes: number;
  maxTotalBytes: number;
  maxCount: number;
}

/**
 * Default bounds: an index of 1 GiB of image is 8 KiB (fidx) to ~650 KiB (casync caibx), so 64 MiB holds a 100 GiB
 * casync image's index and 256 MiB in all holds hundreds of images.
 */
export const SAVED_INDEX_LIMITS: SavedIndexLimits = { maxIndexBytes: 64 * 2 ** 20, maxTotalBytes: 256 * 2 ** 20, maxCount: 4096 };

const MAGIC = 'larder-index-copy v1';
const TEMP_PREFIX = '.tmp-';

/** The header line of a saved copy (JSON after the magic). */
interface CopyHeader {
  store: string;
  name: string;
  size: number;
  sha256: string;
  savedAtMs: number;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The last good copy of each image's index file on the volume, so that a gateway (also one restarted) can open cached
 * images while S3 is unreachable: `<root>/<namespace>/indexes/<store>/<encoded name>`. Each file is one header line
 * (store, name, size and SHA-256 of the bytes) and the index bytes, written atomically (temp file, fsync, rename); a
 * copy whose bytes do not match its header is removed, never returned.
 */
export class SavedIndexes {
  readonly dir: string;
  /** Bytes and save times of the copies, by file path; read from the directory on first use. */
  private known: Map<string, { bytes: number; savedAtMs: number; sha256?: string }> | undefined;
  private scanning: Promise<void> | undefined;

  constructor(
    root: string,
    namespace: string,
    private readonly opts: { fsync?: boolean; limits?: SavedIndexLimits } = {},
  ) {
    this.dir = path.join(root, namespace, 'indexes');
  }

  private get limits(): SavedIndexLimits {
    return this.opts.limits ?? SAVED_INDEX_LIMITS;
  }

  /** File of an image's copy: the name percent-encoded (one file per image, no folders), or its SHA-256 when that would be too long. */
  copyPath(store: string, name: string): string {
    const encoded = encodeURIComponent(name);
    return path.join(this.dir, encodeURIComponent(store), encoded.length <= 200 ? encoded : `~${sha256(Buffer.from(name))}`);
  }

  /**
   * Keep `bytes` as the last good index of `store/name`. Unchanged bytes only refresh the copy's time; an index larger than
   * `maxIndexBytes` is not kept (an older copy of it is removed). Returns whether a copy now holds these bytes.
   */
  async save(store: string, name: string, bytes: Uint8Array): Promise<boolean> {
    const file = this.copyPath(store, name);
    const known = await this.inventory();
    if (bytes.byteLength > this.limits.maxIndexBytes) {
      await this.remove(store, name);
      return false;
    }
    const digest = sha256(bytes);
    const now = Date.now();
    const have = known.get(file);
    if (have?.sha256 === digest) {
      have.savedAtMs = now;
      await utimes(file, now / 1000, now / 1000).catch(() => undefined);
      return true;
    }
    const header: CopyHeader = { store, name, size: bytes.byteLength, sha256: digest, savedAtMs: now };
    const head = Buffer.from(`${MAGIC} ${JSON.stringify(header)}\n`);
    await mkdir(path.dirname(file), { recursive: true });
    const temp = path.join(path.dirname(file), `${TEMP_PREFIX}${process.pid}.${randomBytes(4).toString('hex')}`);
    const fh = await open(temp, 'wx', 0o644);
    try {
      await fh.writeFile(Buffer.concat([head, bytes]));
      if (this.opts.fsync !== false) await fh.datasync();
      await fh.close();
      await rename(temp, file);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw err;
    }
    known.set(file, { bytes: head.byteLength + bytes.byteLength, savedAtMs: now, sha256: digest });
    await this.enforceLimits(file);
    return true;
  }

  /** The saved index bytes of `store/name` and when they were saved, or undefined when there is no intact copy (a corrupt one is removed). */
  async load(store: string, name: string): Promise<{ bytes: Buffer; savedAtMs: number } | undefined> {
    const file = this.copyPath(store, name);
    let raw: Buffer;
    try {
      raw = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = parseCopy(raw);
    if (!parsed || parsed.header.store !== store || parsed.header.name !== name) {
      await this.discard(file);
      return undefined;
    }
    (await this.inventory()).set(file, { bytes: raw.byteLength, savedAtMs: parsed.header.savedAtMs, sha256: parsed.header.sha256 });
    return { bytes: parsed.bytes, savedAtMs: parsed.header.savedAtMs };
  }

  /** Remove the copy of `store/name` (the image is gone from S3). */
  async remove(store: string, name: string): Promise<void> {
    await this.discard(this.copyPath(store, name));
  }

  /** Number and bytes of the copies held. */
  async usage(): Promise<{ count: number; bytes: number }> {
    let bytes = 0;
    const known = await this.inventory();
    for (const k of known.values()) bytes += k.bytes;
    return { count: known.size, bytes };
  }

  private async discard(file: string): Promise<void> {
    await rm(file, { force: true });
    this.known?.delete(file);
  }

  /** Drop the least recently saved copies (never `keep`) until the limits hold. */
  private async enforceLimits(keep: string): Promise<void> {
    const known = await this.inventory();
    let total = 0;
    for (const k of known.values()) total += k.bytes;
    if (total <= this.limits.maxTotalBytes && known.size <= this.limits.maxCount) return;
    const oldest = [...known.entries()].filter(([f]) => f !== keep).sort((a, b) => a[1].savedAtMs - b[1].savedAtMs);
    for (const [file, k] of oldest) {
      if (total <= this.limits.maxTotalBytes && known.size <= this.limits.maxCount) break;
      await this.discard(file);
      total -= k.bytes;
    }
  }

  /** The copies on the volume (sizes and times from the file system; digests learned as they are read or written). Old temp files are removed. */
  private async inventory(): Promise<Map<string, { bytes: number; savedAtMs: number; sha256?: string }>> {
    if (this.known) return this.known;
    this.scanning ??= (async () => {
      const found = new Map<string, { bytes: number; savedAtMs: number; sha256?: string }>();
      for (const store of await readdir(this.dir, { withFileTypes: true }).catch(() => [])) {
        if (!store.isDirectory()) continue;
        const storeDir = path.join(this.dir, store.name);
        for (const f of await readdir(storeDir, { withFileTypes: true }).catch(() => [])) {
          if (!f.isFile()) continue;
          const file = path.join(storeDir, f.name);
          const st = await stat(file).catch(() => undefined);
          if (!st) continue;
          if (f.name.startsWith(TEMP_PREFIX)) {
            if (Date.now() - st.mtimeMs > 60_000) await rm(file, { force: true });
            continue;
          }
          found.set(file, { bytes: st.size, savedAtMs: st.mtimeMs });
        }
      }
      this.known = found;
    })();
    await this.scanning;
    return this.known as NonNullable<typeof this.known>;
  }
}

/** Split a saved copy into header and bytes; undefined when the header is not ours or the bytes do not match it. */
function parseCopy(raw: Buffer): { header: CopyHeader; bytes: Buffer } | undefined {
  const nl = raw.indexOf(0x0a);
  if (nl < 0 || nl > 64 * 1024) return undefined;
  const line = raw.subarray(0, nl).toString('utf8');
  if (!line.startsWith(`${MAGIC} `)) return undefined;
  let header: CopyHeader;
  try {
    header = JSON.parse(line.slice(MAGIC.length + 1)) as CopyHeader;
  } catch {
    return undefined;
  }
  const bytes = raw.subarray(nl + 1);
  if (typeof header.sha256 !== 'string' || header.size !== bytes.byteLength || sha256(bytes) !== header.sha256) return undefined;
  return { header, bytes };
}
