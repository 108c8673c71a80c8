/** `items` in slices of at most `size` (commands and scripts are sent a slice at a time). */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `items` without repeats, in first-seen order. */
export function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
