import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BLOB_MAGIC, blobKind, decodeDataBlob, encodeDataBlob } from './blob.js';
import { crc32Js } from './crc32.js';
import { expectFormatError, mixedData, randomBytesFrom, rng } from './test-helpers.js';

// "hello world": CRC32 (IEEE) 0x0d4a1185, little-endian 85 11 4a 0d.
const PLAIN_VECTOR = Buffer.from('42ab3807be8370a1' + '85114a0d' + '68656c6c6f20776f726c64', 'hex');
// zstd variant: a hand-built frame with one raw block "hello world" (no content size), CRC over the frame.
const FRAME = Buffer.from('28b52ffd' + '00' + '00' + '590000' + '68656c6c6f20776f726c64', 'hex');

function blob(magic: Buffer, payload: Buffer, crc = crc32Js(payload)): Buffer {
  const head = Buffer.alloc(12);
  magic.copy(head);
  head.writeUInt32LE(crc, 8);
  return Buffer.concat([head, payload]);
}

describe('BLOB_MAGIC', () => {
  it('is the first 8 bytes of SHA-256 of the Proxmox version strings', () => {
    const names = {
      plain: 'Proxmox Backup uncompressed blob v1.0',
      zstd: 'Proxmox Backup zstd compressed blob v1.0',
      encrypted: 'Proxmox Backup encrypted blob v1.0',
      'encrypted-zstd': 'Proxmox Backup zstd compressed encrypted blob v1.0',
    } as const;
    for (const [kind, text] of Object.entries(names)) {
      const want = createHash('sha256').update(text).digest().subarray(0, 8);
      expect(BLOB_MAGIC[kind as keyof typeof names]).toEqual(want);
    }
  });

  it('identifies kinds by magic', () => {
    expect(blobKind(PLAIN_VECTOR)).toBe('plain');
    expect(blobKind(blob(BLOB_MAGIC.zstd, FRAME))).toBe('zstd');
    expect(blobKind(BLOB_MAGIC['encrypted-zstd'])).toBe('encrypted-zstd');
    expect(blobKind(Buffer.alloc(12))).toBeUndefined();
    expect(blobKind(Buffer.alloc(3))).toBeUndefined();
  });
});

describe('decodeDataBlob', () => {
  it('decodes the hand-built plain vector', () => {
    expect(decodeDataBlob(PLAIN_VECTOR).toString()).toBe('hello world');
  });

  it('decodes a hand-built zstd vector', () => {
    const vec = Buffer.concat([BLOB_MAGIC.zstd, Buffer.alloc(4), FRAME]);
    vec.writeUInt32LE(crc32Js(FRAME), 8);
    expect(decodeDataBlob(vec).toString()).toBe('hello world');
  });

  it('refuses a CRC mismatch, naming both values', () => {
    const bad = Buffer.from(PLAIN_VECTOR);
    bad[15] = bad[15]! ^ 1;
    expectFormatError(() => decodeDataBlob(bad), 'blob-crc', /header has 0x0d4a1185/);
  });

  it('refuses short input and unknown magic', () => {
    expectFormatError(() => decodeDataBlob(PLAIN_VECTOR.subarray(0, 11)), 'blob-short', /11 bytes/);
    expectFormatError(() => decodeDataBlob(Buffer.alloc(20)), 'blob-magic', /0000000000000000/);
  });

  it('refuses both encrypted kinds', () => {
    for (const kind of ['encrypted', 'encrypted-zstd'] as const) {
      const enc = Buffer.concat([blob(BLOB_MAGIC[kind], Buffer.alloc(40))]);
      expectFormatError(() => decodeDataBlob(enc), 'blob-encrypted', /encrypted chunks are not supported/);
    }
  });

  it('enforces maxSize on plain and compressed payloads', () => {
    expectFormatError(() => decodeDataBlob(PLAIN_VECTOR, { maxSize: 10 }), 'blob-too-large');
    const z = encodeDataBlob(Buffer.alloc(50_000));
    expect(blobKind(z)).toBe('zstd');
    expectFormatError(() => decodeDataBlob(z, { maxSize: 49_999 }), 'blob-too-large');
    expect(decodeDataBlob(z, { maxSize: 50_000 }).length).toBe(50_000);
  });

  it('passes zstd corruption through as zstd-corrupt', () => {
    const junk = randomBytesFrom(rng(5), 64);
    expectFormatError(() => decodeDataBlob(blob(BLOB_MAGIC.zstd, junk)), 'zstd-corrupt');
  });
});

describe('encodeDataBlob', () => {
  it('compresses compressible data and round-trips', () => {
    const data = mixedData(rng(9), 100_000);
    const enc = encodeDataBlob(data);
    expect(blobKind(enc)).toBe('zstd');
    expect(enc.length).toBeLessThan(data.length);
    expect(enc.readUInt32LE(8)).toBe(crc32Js(enc.subarray(12)));
    expect(decodeDataBlob(enc).equals(data)).toBe(true);
  });

  it('stores incompressible data plain', () => {
    const data = randomBytesFrom(rng(10), 5000);
    const enc = encodeDataBlob(data);
    expect(blobKind(enc)).toBe('plain');
    expect(enc.subarray(12).equals(data)).toBe(true);
    expect(decodeDataBlob(enc).equals(data)).toBe(true);
  });

  it('produces exactly the hand-built plain vector when compression is off', () => {
    expect(encodeDataBlob(Buffer.from('hello world'), { compress: false })).toEqual(PLAIN_VECTOR);
    expect(encodeDataBlob(Buffer.from('hello world'))).toEqual(PLAIN_VECTOR); // zstd would not be shorter
  });

  it('handles empty data', () => {
    const enc = encodeDataBlob(Buffer.alloc(0));
    expect(enc.length).toBe(12);
    expect(decodeDataBlob(enc).length).toBe(0);
  });
});
