/** A parsed `Range` header against a resource of `size` bytes. */
export type RangeResult = { kind: 'full' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Parse a single-range `Range: bytes=…` header (`a-b`, `a-`, `-n`). A header that is absent, not in bytes,
 * malformed or has several ranges means the whole resource (RFC 9110 lets a server ignore Range).
 * `end` is exclusive.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(m[1]);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(last) || last < start) return { kind: 'full' };
  return { kind: 'range', start, end: last + 1 };
}
