import { describe, expect, it } from 'vitest';
import { RecentErrors, redactSecrets } from './recent-errors.js';

describe('RecentErrors', () => {
  it('keeps the newest entries, newest first, up to its size', () => {
    const r = new RecentErrors(3);
    for (let i = 0; i < 5; i++) r.add({ method: 'GET', path: `/p${i}`, status: 502, message: `m${i}` });
    expect(r.list().map((e) => e.path)).toEqual(['/p4', '/p3', '/p2']);
  });

  it('cuts long messages and hides credentials in URLs and bearer tokens', () => {
    const r = new RecentErrors();
    r.add({ method: 'GET', path: '/x', status: 500, message: `redis://admin:s3cret@redis:6379 refused; Bearer abc.def ${'x'.repeat(500)}` });
    const [e] = r.list();
    expect(e?.message).not.toContain('s3cret');
    expect(e?.message).not.toContain('abc.def');
    expect(e?.message.startsWith('redis://***@redis:6379 refused; Bearer ***')).toBe(true);
    expect(e?.message.length).toBeLessThanOrEqual(301);
    expect(redactSecrets('http://host/path')).toBe('http://host/path');
  });
});
