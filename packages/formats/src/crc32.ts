import * as zlib from 'node:zlib';

type Crc32Fn = (data: Uint8Array) => number;

let table: Uint32Array | undefined;

function tableCrc32(data: Uint8Array): number {
  table ??= makeTable();
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    crc = (table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)) >>> 0;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** Pure-JS IEEE CRC32 (exported for tests; crc32() prefers zlib's native one). */
export const crc32Js: Crc32Fn = tableCrc32;

/** Standard IEEE CRC32 (as crc32fast / zlib compute it); uses node:zlib when available (Node >= 20.15). */
export const crc32: Crc32Fn = typeof native === 'function' ? (d) => native(d) >>> 0 : tableCrc32;
