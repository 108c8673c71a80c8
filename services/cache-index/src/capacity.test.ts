import { describe, expect, it } from 'vitest';
import { effectiveCapacity } from './capacity.js';

describe('effectiveCapacity', () => {
  it('is the configured size when the filesystem has room', () => {
    expect(effectiveCapacity({ configuredBytes: 100, usedBytes: 50, fsTotalBytes: 10_000, fsFreeBytes: 5000, reserveFraction: 0.05 })).toBe(100);
  });
  it('is lowered to keep the free-space reserve, counting our own bytes as reclaimable', () => {
    // 1000 total, reserve 50; we use 300, 100 free: we may use 300 + 100 - 50 = 350.
    expect(effectiveCapacity({ configuredBytes: 10_000, usedBytes: 300, fsTotalBytes: 1000, fsFreeBytes: 100, reserveFraction: 0.05 })).toBe(350);
  });
  it('never goes below zero', () => {
    expect(effectiveCapacity({ configuredBytes: 10, usedBytes: 0, fsTotalBytes: 1000, fsFreeBytes: 0, reserveFraction: 0.5 })).toBe(0);
  });
});
