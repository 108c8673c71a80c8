import { describe, expect, it } from 'vitest';
import { writeCaibx } from './caibx-writer.js';
import { writeDynamicIndex } from './dynamic-index.js';
import { writeFixedIndex } from './fixed-index.js';
import { indexFormatOf, isIndexName, parseIndex } from './parse-index.js';
import { expectFormatError, fakeDigest } from './test-helpers.js';

const entries = [
  { end: 100, digest: fakeDigest(1) },
  { end: 250, digest: fakeDigest(2) },
];

describe('parseIndex', () => {
  it('dispatches on the file extension', () => {
    const fidx = parseIndex('vm/100/2024-01-01T00:00:00Z/drive-scsi0.img.fidx', writeFixedIndex({ size: 250, chunkSize: 128, digests: [fakeDigest(1), fakeDigest(2)] }));
    const didx = parseIndex('root.pxar.didx', writeDynamicIndex({ entries }));
    const caibx = parseIndex('image.caibx', writeCaibx({ entries }));
    expect([fidx.format, didx.format, caibx.format]).toEqual(['fidx', 'didx', 'caibx']);
    for (const idx of [fidx, didx, caibx]) {
      expect(idx.size).toBe(250);
      expect(idx.chunkCount).toBe(2);
      expect(idx.chunkDigest(1)).toBe('02'.repeat(32));
      expect(idx.findChunk(249)).toBe(1);
    }
  });

  it('passes options through to the Proxmox parsers', () => {
    const buf = writeDynamicIndex({ entries });
    buf[32] = buf[32]! ^ 1;
    expectFormatError(() => parseIndex('x.didx', buf), 'index-csum');
    expect(parseIndex('x.didx', buf, { verifyChecksum: false }).chunkCount).toBe(2);
  });

  it('refuses other names with index-unknown', () => {
    expectFormatError(() => parseIndex('index.json.blob', Buffer.alloc(0)), 'index-unknown', /index\.json\.blob/);
    expectFormatError(() => parseIndex('x.FIDX', Buffer.alloc(0)), 'index-unknown');
  });
});

describe('isIndexName / indexFormatOf', () => {
  it('recognises exactly the three extensions', () => {
    expect(['a.fidx', 'b.didx', 'c.caibx', '.caibx'].map(isIndexName)).toEqual([true, true, true, true]);
    expect(['a.fidx.tmp', 'a.caidx', 'a.catar', 'fidx', 'a.blob', ''].map(isIndexName)).toEqual([false, false, false, false, false, false]);
    expect(indexFormatOf('dir/x.didx')).toBe('didx');
    expect(indexFormatOf('x.tmp_fidx')).toBeUndefined();
  });
});
