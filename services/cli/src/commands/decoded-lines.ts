import { formatSize } from '@larder/config';

/** The gateway process's decoded-chunk sections of `/v1/status` as the CLI reads them. */
interface DecodedStatus {
  decodedCache?: { budgetBytes: number; usedBytes: number; hits: number; misses: number } | null;
  decodedSpill?: { budgetBytes: number; usedBytes: number; chunks: number; failedWrites: number; corrupt: number } | null;
}

/**
 * `larder status` lines for the decoded chunks of image reads: in memory, and their copies on the volume (with the
 * copies the spill's scrubber found corrupt and the writes that failed). Per gateway process: the one that answered.
 */
export function decodedLines(s: DecodedStatus): string[] {
  const lines: string[] = [];
  const c = s.decodedCache;
  if (c) lines.push(`decoded cache    ${formatSize(c.usedBytes)} of ${formatSize(c.budgetBytes)}, ${c.hits} hits / ${c.misses} misses`);
  const sp = s.decodedSpill;
  if (sp) {
    lines.push(`decoded spill    ${formatSize(sp.usedBytes)} of ${formatSize(sp.budgetBytes)} in ${sp.chunks} chunks, ${sp.corrupt} corrupt, ${sp.failedWrites} failed writes`);
  }
  return lines;
}
