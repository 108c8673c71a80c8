/** 1 KiB in bytes. */
export const KiB = 1024;
/** 1 MiB in bytes. */
export const MiB = 1024 * 1024;
/** 1 GiB in bytes. */
export const GiB = 1024 * 1024 * 1024;

/** Throughput in MiB/s of `bytes` moved in `ms` milliseconds. */
export function mibPerSec(bytes: number, ms: number): number {
  return ms > 0 ? bytes / MiB / (ms / 1000) : 0;
}

/** A byte count written for people: `4 MiB`, `64 KiB`, `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units: [number, string][] = [
    [GiB, 'GiB'],
    [MiB, 'MiB'],
    [KiB, 'KiB'],
  ];
  for (const [size, name] of units) {
    if (bytes >= size) {
      const v = bytes / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${name}`;
    }
  }
  return `${bytes} B`;
}

/** Percentile `p` (0..100) of `values` by nearest rank; 0 for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

/** Round to `digits` significant decimals for reports. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Replace loopback port numbers (`127.0.0.1:43123`) by `PORT` so that notes stay the same from run to run. */
export function scrubPorts(text: string): string {
  return text.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT').replace(/ -p \d+/g, ' -p PORT');
}
