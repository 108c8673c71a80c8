/** Inputs of the capacity rule. */
export interface CapacityInputs {
  configuredBytes: number;
  usedBytes: number;
  fsTotalBytes: number;
  fsFreeBytes: number;
  reserveFraction: number;
}

/**
 * The bytes the cache may use: the configured capacity, lowered so that the filesystem keeps its free-space
 * reserve. Our own used bytes count as reclaimable, so the limit is `used + free - reserve`.
 */
export function effectiveCapacity(i: CapacityInputs): number {
  const reserve = Math.ceil(i.fsTotalBytes * i.reserveFraction);
  const fsLimit = i.usedBytes + i.fsFreeBytes - reserve;
  return Math.max(0, Math.min(i.configuredBytes, fsLimit));
}
