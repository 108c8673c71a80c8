import { sameFile, type FileIdentity } from '@larder/volume';

/**
 * Proofs that chunk files verified in this process: chunk key → the identity (`fileIdentity`: device, inode, size,
 * mtime, ctime) of the file that verified. A later open of the same unchanged file skips the hash; any write to the
 * file changes its identity and voids the proof. Bounded: past `max` entries the oldest proof is dropped (that file
 * is hashed again on its next open).
 */
export class ChunkProofs {
  private readonly proofs = new Map<string, FileIdentity>();

  constructor(private readonly max = 262_144) {}

  /** Proofs held. */
  get size(): number {
    return this.proofs.size;
  }

  /** Whether the file with this identity is proven to hold the chunk `key`. */
  holds(key: string, identity: FileIdentity): boolean {
    const proof = this.proofs.get(key);
    return proof !== undefined && sameFile(proof, identity);
  }

  /** Record that the file with this identity verified as chunk `key`. */
  add(key: string, identity: FileIdentity): void {
    this.proofs.delete(key);
    this.proofs.set(key, identity);
    if (this.proofs.size > this.max) this.proofs.delete(this.proofs.keys().next().value as string);
  }

  delete(key: string): void {
    this.proofs.delete(key);
  }
}
