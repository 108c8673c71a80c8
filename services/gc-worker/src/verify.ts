import type { ResolvedDatastore } from '@larder/config';
import type { RetryPolicy, S3Client } from '@larder/s3';
import { listChunkPages } from './chunk-listing.js';
import { DigestReader } from './digest-file.js';
import { checkCancelled, GcAbort } from './gc-errors.js';

/**
 * Check that every chunk a fresh mark (`marked`, made before this LIST starts) references exists in S3: a merge-join of
 * the sorted file against the chunk LIST. A missing chunk fails the run, naming the first few.
 */
export async function verifyChunks(
  ds: ResolvedDatastore,
  marked: string,
  opts: { client: S3Client; policy: RetryPolicy; signal: AbortSignal; progress: (listed: number) => void },
): Promise<void> {
  const reader = await DigestReader.open(marked);
  const missing: string[] = [];
  let missingCount = 0;
  let listed = 0;
  try {
    let cur = reader.next();
    const miss = (d: Buffer) => {
      missingCount++;
      if (missing.length < 5) missing.push(d.toString('hex'));
    };
    try {
      for await (const page of listChunkPages(opts.client, ds, opts.policy)) {
        for (const obj of page) {
          listed++;
          const digest = Buffer.from(obj.digest, 'hex');
          while (cur && cur.compare(digest) < 0) {
            miss(cur);
            cur = reader.next();
          }
          if (cur && cur.compare(digest) === 0) cur = reader.next();
        }
        opts.progress(listed);
        checkCancelled(opts.signal);
      }
    } catch (err) {
      if (err instanceof GcAbort) throw err;
      throw new GcAbort('failed', `verification of ${ds.name}: listing its chunks in S3 failed: ${(err as Error).message}`, { cause: err });
    }
    for (; cur; cur = reader.next()) miss(cur);
  } finally {
    await reader.close();
  }
  if (missingCount > 0) {
    throw new GcAbort('failed', `verification of ${ds.name} FAILED: ${missingCount} referenced chunk(s) missing from S3, e.g. ${missing.join(', ')}`);
  }
}
