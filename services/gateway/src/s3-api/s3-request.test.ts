import { describe, expect, it } from 'vitest';
import { parseS3Address } from './s3-request.js';

const known = (b: string) => b === 'demo' || b === 'cas';
const at = (url: string, host = '127.0.0.1:8781') => parseS3Address({ url, headers: { host } }, known);

describe('S3 request addressing', () => {
  it('reads path style: service, bucket, key (percent-decoded), query', () => {
    expect(at('/')).toMatchObject({ bucket: undefined, key: undefined, style: 'path' });
    expect(at('/demo?list-type=2')).toMatchObject({ bucket: 'demo', key: undefined });
    expect(at('/demo/')).toMatchObject({ bucket: 'demo', key: undefined });
    const a = at('/demo/.chunks/ab12/x%20y%2Bz?uploadId=1');
    expect(a).toMatchObject({ bucket: 'demo', key: '.chunks/ab12/x y+z' });
    expect(a.query.get('uploadId')).toBe('1');
    expect(at('/demo/a//b').key).toBe('a//b');
  });

  it('reads virtual-hosted style when the first label is a known bucket and the rest is a name', () => {
    expect(at('/x/y', 'demo.s3.example.org:8781')).toMatchObject({ bucket: 'demo', key: 'x/y', style: 'virtual' });
    expect(at('/', 'cas.localhost')).toMatchObject({ bucket: 'cas', key: undefined, style: 'virtual' });
    // Not a known bucket, or an IP address: path style.
    expect(at('/demo/k', 'other.localhost')).toMatchObject({ bucket: 'demo', key: 'k', style: 'path' });
    expect(at('/demo/k', 'demo.10.0.0.1')).toMatchObject({ bucket: 'demo', key: 'k', style: 'path' });
    expect(at('/demo/k', '[::1]:8781')).toMatchObject({ bucket: 'demo', style: 'path' });
  });

  it('refuses what could escape the prefix or is no key', () => {
    expect(() => at('/demo/../x')).toThrow(/segment/);
    expect(() => at('/demo/a/%2e%2E/x')).toThrow(/segment/);
    expect(() => at('/demo%2fx/y')).toThrow(/bucket name/);
    expect(() => at('/demo/a%0Ab')).toThrow(/control/);
    expect(() => at(`/demo/${'é'.repeat(513)}`)).toThrow(/longer than 1024/);
    expect(() => at('/demo/%zz')).toThrow(/percent-encoding/);
  });
});
