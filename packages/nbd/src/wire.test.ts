import { StatusError } from '@larder/errors';
import { describe, expect, it } from 'vitest';
import { NBD_ERR, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, NBD_STRUCTURED_REPLY_MAGIC } from './constants.js';
import { toNbdErrno } from './errors.js';
import { encodeErrorChunk, encodeExportNameReply, encodeGreeting, encodeOptionReply, truncateUtf8 } from './wire.js';

describe('wire encoders', () => {
  it('encodes the greeting', () => {
    expect(encodeGreeting().toString('hex')).toBe('4e42444d41474943' + '49484156454f5054' + '0003');
  });

  it('encodes option replies', () => {
    const b = encodeOptionReply(7, 0x80000006, Buffer.from('hi'));
    expect(b.toString('hex')).toBe('0003e889045565a9' + '00000007' + '80000006' + '00000002' + '6869');
  });

  it('pads the NBD_OPT_EXPORT_NAME reply unless NO_ZEROES', () => {
    expect(encodeExportNameReply(1, 3, false).length).toBe(134);
    expect(encodeExportNameReply(1, 3, true).length).toBe(10);
  });

  it('encodes error chunks with bounded messages', () => {
    const cookie = Buffer.from('0102030405060708', 'hex');
    const b = encodeErrorChunk(cookie, NBD_ERR.EIO, 'é'.repeat(3000));
    expect(b.readUInt32BE(0)).toBe(NBD_STRUCTURED_REPLY_MAGIC);
    expect(b.readUInt16BE(4)).toBe(NBD_REPLY_FLAG_DONE);
    expect(b.readUInt16BE(6)).toBe(NBD_REPLY_TYPE_ERROR);
    expect(b.subarray(8, 16)).toEqual(cookie);
    const length = b.readUInt32BE(16);
    expect(b.length).toBe(20 + length);
    expect(b.readUInt32BE(20)).toBe(NBD_ERR.EIO);
    const msgLength = b.readUInt16BE(24);
    expect(msgLength).toBe(length - 6);
    expect(msgLength).toBeLessThanOrEqual(1024);
    expect(b.subarray(26).toString('utf8')).toBe('é'.repeat(msgLength / 2));
  });

  it('truncates UTF-8 on code point boundaries', () => {
    expect(truncateUtf8(Buffer.from('aé'), 2).toString()).toBe('a');
    expect(truncateUtf8(Buffer.from('abc'), 5).toString()).toBe('abc');
  });
});

describe('toNbdErrno', () => {
  it('uses a valid nbdErrno and falls back to EIO', () => {
    expect(toNbdErrno(Object.assign(new Error('x'), { nbdErrno: NBD_ERR.EINVAL }))).toBe(NBD_ERR.EINVAL);
    expect(toNbdErrno(Object.assign(new Error('x'), { nbdErrno: 0 }))).toBe(NBD_ERR.EIO);
    expect(toNbdErrno(new Error('x'))).toBe(NBD_ERR.EIO);
    expect(toNbdErrno('boom')).toBe(NBD_ERR.EIO);
  });

  it('maps a StatusError by its status (nbdErrnoOf): a read past the end EINVAL, S3 or fetch failures EIO', () => {
    expect(toNbdErrno(new StatusError(416, 'past the end'))).toBe(NBD_ERR.EINVAL);
    expect(toNbdErrno(new StatusError(503, 'S3 unavailable'))).toBe(NBD_ERR.EIO);
    expect(toNbdErrno(new StatusError(502, 'bad bytes'))).toBe(NBD_ERR.EIO);
    expect(toNbdErrno(Object.assign(new StatusError(503, 'full'), { nbdErrno: NBD_ERR.ENOSPC }))).toBe(NBD_ERR.ENOSPC);
  });
});
