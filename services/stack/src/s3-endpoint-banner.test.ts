import { parseConfig } from '@larder/config';
import { describe, expect, it } from 'vitest';
import { s3EndpointLines } from './s3-endpoint-banner.js';

const datastores = { demo: { layout: 'pbs', bucket: 'larder-demo', clientBucket: 'demo' } };

describe('the start banner of the S3 endpoint', () => {
  it('prints the URL, the buckets, and the demo key with its secret', () => {
    const text = s3EndpointLines(
      'http://127.0.0.1:8781',
      parseConfig({ datastores, accessKeys: [{ accessKeyId: 'larder-demo', secretAccessKey: 'larder-demo-secret', access: 'read-write' }] }),
    );
    expect(text).toContain('S3 endpoint: http://127.0.0.1:8781 (buckets: demo; keys: larder-demo / larder-demo-secret (demo key))');
    expect(text).toContain('AWS_ACCESS_KEY_ID=larder-demo AWS_SECRET_ACCESS_KEY=larder-demo-secret aws --endpoint-url http://127.0.0.1:8781 s3 ls s3://demo/');
  });

  it('never prints another key’s secret, and nothing without an endpoint', () => {
    const config = parseConfig({ datastores, accessKeys: [{ accessKeyId: 'larder-demo', secretAccessKey: 'a-real-secret', access: 'read' }] });
    const text = s3EndpointLines('http://127.0.0.1:8781', config);
    expect(text).toContain('keys: larder-demo)');
    expect(text).not.toContain('a-real-secret');
    expect(s3EndpointLines(undefined, config)).toBe('');
  });
});
