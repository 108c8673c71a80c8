import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDataBlob, parseFixedIndex, zeroChunkDigest } from '@larder/formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBuffer } from './fetch-buffer.js';
import { encodePbsBackup, PBS_FIXED_CHUNK, type PbsBackupSource } from './pbs-backup-fixture.js';
import { pbsS3Backup, type PbsS3Target } from './pbs-s3-backup.js';
import { objectUrl } from './s3-gets.js';
import { measureS3Traffic } from './s3-traffic.js';
import { MiB } from './units.js';
import { startWanS3, type WanS3 } from './wan-s3.js';

describe('PBS-style backup client against S3 behind the WAN proxy', () => {
  let dir: string;
  let s3: WanS3;
  let image: Buffer;
  let src: PbsBackupSource;
  const target = (): PbsS3Target => ({ endpoint: s3.endpoint, bucket: 'b', prefix: 'ds', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-bench-pbs-'));
    s3 = await startWanS3({ directory: join(dir, 's3'), buckets: ['b'], isolate: false, link: { latencyMs: 2, bandwidthBytesPerSec: 256 * MiB, handshakeMs: 4 } });
    // Chunks: text, zeros, the text again, noise, a short zero tail: 3 distinct non-zero/zero chunks plus one short zero chunk.
    const text = Buffer.from('backup chunk text '.repeat(PBS_FIXED_CHUNK / 18 + 1)).subarray(0, PBS_FIXED_CHUNK);
    const noise = Buffer.concat(Array.from({ length: PBS_FIXED_CHUNK / 32 }, (_, i) => createHash('sha256').update(String(i)).digest()));
    image = Buffer.concat([text, Buffer.alloc(PBS_FIXED_CHUNK), text, noise, Buffer.alloc(MiB)]);
    await writeFile(join(dir, 'disk.img'), image);
    src = await encodePbsBackup(join(dir, 'disk.img'), join(dir, 'blobs'));
  });
  afterAll(async () => {
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('encodes each distinct chunk once as a DataBlob and indexes every chunk', () => {
    expect(src.chunks).toBe(5);
    expect(src.blobs).toHaveLength(4);
    expect(src.zeroChunks).toBe(2);
    const index = parseFixedIndex(src.fidx);
    expect(index.size).toBe(image.length);
    expect(index.chunkCount).toBe(5);
    expect(index.chunkDigest(1)).toBe(zeroChunkDigest('sha256', PBS_FIXED_CHUNK));
    expect(index.chunkDigest(2)).toBe(index.chunkDigest(0));
  });

  it('uploads every chunk with a conditional PUT, then index and manifest; the second backup gets 412 for every chunk', async () => {
    const first = await measureS3Traffic(s3, () => pbsS3Backup(src, target(), { concurrency: 3, backupTime: new Date('2026-01-01T00:00:00Z') }));
    expect(first.result).toMatchObject({ chunkPuts: 4, stored: 4, existed: 0 });
    expect(first.result.indexKey).toBe('ds/.cnt/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx');
    expect(first.traffic).toMatchObject({ puts: 6, chunkPuts: 4, heads: 0, gets: 0, preconditionFailed: 0 });
    expect(first.traffic.bytesReceived).toBe(first.result.bodyBytes);
    const blob = src.blobs[3];
    if (!blob) throw new Error('missing blob');
    const stored = await fetchBuffer(objectUrl(s3.directEndpoint, 'b', `ds/.chunks/${blob.digest.slice(0, 4)}/${blob.digest}`));
    expect(createHash('sha256').update(decodeDataBlob(stored)).digest('hex')).toBe(blob.digest);
    const manifest = JSON.parse(decodeDataBlob(await fetchBuffer(objectUrl(s3.directEndpoint, 'b', first.result.manifestKey))).toString('utf8')) as { files: { size: number }[] };
    expect(manifest.files[0]?.size).toBe(image.length);

    const second = await measureS3Traffic(s3, () => pbsS3Backup(src, target(), { concurrency: 3, backupTime: new Date('2026-01-02T00:00:00Z') }));
    expect(second.result).toMatchObject({ chunkPuts: 4, stored: 0, existed: 4 });
    // The bodies still cross the link: S3 answers 412 after it has read them.
    expect(second.traffic).toMatchObject({ puts: 6, chunkPuts: 4, preconditionFailed: 4 });
    expect(second.traffic.bytesReceived).toBe(first.traffic.bytesReceived);
    expect(second.traffic.wireBytesUp).toBeGreaterThan(src.blobBytes);
  });

  it('reports a refused PUT with its status and S3 error', async () => {
    await expect(pbsS3Backup(src, { ...target(), bucket: 'no-such-bucket' }, { concurrency: 2, backupTime: new Date() })).rejects.toThrow(/HTTP 404.*NoSuchBucket/);
  });
});
