import { parseConfig } from '@larder/config';
import { describe, expect, it } from 'vitest';
import { startS3Server } from './s3-server.js';

const config = (accessKeys: unknown[]) => parseConfig({ datastores: { demo: { layout: 'pbs', bucket: 'demo-up' } }, accessKeys });

describe('S3 endpoint listener', () => {
  it('refuses a non-loopback address when no access keys are configured', async () => {
    const c = config([]);
    await expect(startS3Server({ config: () => c, listen: '0.0.0.0:0' })).rejects.toThrow(/not a loopback address and no accessKeys/);
    const allowed = parseConfig({ datastores: { demo: { layout: 'pbs', bucket: 'demo-up' } }, gateway: { allowOpen: true } });
    await (await startS3Server({ config: () => allowed, listen: '0.0.0.0:0' })).stop();
  });

  it('serves on a non-loopback address with access keys, and on loopback without', async () => {
    const withKeys = config([{ accessKeyId: 'k-1', secretAccessKey: 'secret-1', access: 'read' }]);
    const open = await startS3Server({ config: () => withKeys, listen: '0.0.0.0:0' });
    await open.stop();
    const none = config([]);
    const local = await startS3Server({ config: () => none, listen: '127.0.0.1:0' });
    // Without keys every request is refused, with an S3 error document.
    const res = await fetch(`${local.url}/demo/x`);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/<Code>(AccessDenied|InvalidAccessKeyId|MissingSecurityHeader)<\/Code>/);
    await local.stop();
  });
});
