import { createHash } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { SingleFlight } from '@larder/flight';
import { fileIdentity, preadAll, sameFile, type FileIdentity } from '@larder/volume';

/** A chunk file's size, the quoted ETag S3 gives its object, and when the file was written. */
export interface ChunkEtag {
  size: number;
  etag: string;
  lastModified: Date;
}

/** The quoted ETag S3 gives an object written by one PutObject: the hex MD5 of its bytes. */
export function md5Etag(bytes: Uint8Array): string {
  return `"${createHash('md5').update(bytes).digest('hex')}"`;
}

/**
 * The ETags of chunk files, kept by file identity (device, inode, size, mtime, ctime) as ChunkProofs keeps proofs: a
 * file is hashed once per process, and any write to it voids its entry. Bounded: past `max` entries the oldest goes.
 */
export class ChunkEtags {
  private readonly etags = new Map<string, { identity: FileIdentity; etag: string }>();
  private readonly hashing = new SingleFlight<string>();

  constructor(private readonly max = 262_144) {}

  get size(): number {
    return this.etags.size;
  }

  /** The size and ETag of chunk `key`'s file open as `fd`: from the table, or its MD5 computed now. */
  async of(key: string, fd: number): Promise<ChunkEtag> {
    const identity = fileIdentity(fstatSync(fd));
    const known = this.etags.get(key);
    if (known && sameFile(known.identity, identity)) return { size: identity.size, etag: known.etag, lastModified: new Date(identity.mtimeMs) };
    const id = `${key}@${identity.dev}:${identity.ino}:${identity.size}:${identity.mtimeMs}:${identity.ctimeMs}`;
    const etag = await this.hashing.run(id, async () => {
      const bytes = Buffer.allocUnsafe(identity.size);
      await preadAll(fd, bytes);
      return md5Etag(bytes);
    });
    this.add(key, identity, etag);
    return { size: identity.size, etag, lastModified: new Date(identity.mtimeMs) };
  }

  /** Record the ETag of the file with this identity (written by this process from a body whose MD5 it knows). */
  add(key: string, identity: FileIdentity, etag: string): void {
    this.etags.delete(key);
    this.etags.set(key, { identity, etag });
    if (this.etags.size > this.max) this.etags.delete(this.etags.keys().next().value as string);
  }

  delete(key: string): void {
    this.etags.delete(key);
  }
}
