import { describe, expect, it } from 'vitest';
import { blobKind } from './blob.js';
import { decodeAndVerifyChunk, encodeChunk, layoutDigestAlgorithm } from './chunk.js';
import { digest } from './digest.js';
import { expectFormatError, mixedData, rng } from './test-helpers.js';

describe('chunk layouts', () => {
  it('maps layouts to their digest algorithms', () => {
    expect(layoutDigestAlgorithm('pbs')).toBe('sha256');
    expect(layoutDigestAlgorithm('casync')).toBe('sha512-256');
    expect(layoutDigestAlgorithm('restic')).toBe('sha256');
    expectFormatError(() => layoutDigestAlgorithm('zip' as never), 'invalid-argument', /zip/);
  });

  it('keeps restic packs as they are, named by the SHA-256 of the object', () => {
    const pack = mixedData(rng(21), 40_000);
    const { digest: id, bytes } = encodeChunk('restic', pack);
    expect(id).toBe(digest('sha256', pack).toString('hex'));
    expect(bytes.equals(pack)).toBe(true);
    expect(decodeAndVerifyChunk('restic', id, bytes).equals(pack)).toBe(true);
    const flipped = Buffer.from(bytes);
    flipped[100] = (flipped[100] ?? 0) ^ 1;
    expectFormatError(() => decodeAndVerifyChunk('restic', id, flipped), 'digest-mismatch', /sha256/);
  });

  it('encodes PBS chunks as DataBlobs keyed by SHA-256 of the plain data', () => {
    const data = mixedData(rng(20), 50_000);
    const { digest: id, bytes } = encodeChunk('pbs', data);
    expect(id).toBe(digest('sha256', data).toString('hex'));
    expect(blobKind(bytes)).toBe('zstd');
    expect(decodeAndVerifyChunk('pbs', id, bytes).equals(data)).toBe(true);
  });

  it('encodes casync chunks as zstd frames keyed by SHA-512/256', () => {
    const data = mixedData(rng(21), 50_000);
    const { digest: id, bytes } = encodeChunk('casync', data);
    expect(id).toBe(digest('sha512-256', data).toString('hex'));
    expect(bytes.subarray(0, 4).toString('hex')).toBe('28b52ffd');
    expect(decodeAndVerifyChunk('casync', id, bytes).equals(data)).toBe(true);
  });

  it('supports an explicit algorithm (casync --digest=sha256 stores)', () => {
    const data = Buffer.from('some chunk');
    const { digest: id, bytes } = encodeChunk('casync', data, 'sha256');
    expect(id).toBe(digest('sha256', data).toString('hex'));
    expect(decodeAndVerifyChunk('casync', id, bytes, 'sha256').toString()).toBe('some chunk');
    expectFormatError(() => decodeAndVerifyChunk('casync', id, bytes), 'digest-mismatch');
  });

  it('reports a digest mismatch naming expected and actual', () => {
    const { digest: id, bytes } = encodeChunk('pbs', Buffer.from('abc'));
    const wrong = 'f'.repeat(64);
    const err = expectFormatError(() => decodeAndVerifyChunk('pbs', wrong, bytes), 'digest-mismatch');
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(id);
  });

  it('rejects malformed expected digests before decoding', () => {
    const { bytes } = encodeChunk('pbs', Buffer.from('abc'));
    expectFormatError(() => decodeAndVerifyChunk('pbs', 'ABC', bytes), 'digest-invalid');
  });
});
