import { formatSize } from '@larder/config';

/** A one-line progress bar on a TTY (throughput and ETA), or occasional lines elsewhere. */
export class Progress {
  private readonly start = Date.now();
  private lastPrint = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {}

  /** Report `done` bytes of the total. */
  update(done: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.out.isTTY ? 100 : 2000)) return;
    this.lastPrint = now;
    const secs = Math.max(0.001, (now - this.start) / 1000);
    const rate = done / secs;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const eta = rate > 0 ? Math.max(0, (this.total - done) / rate) : 0;
    const width = 30;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const line = `${this.label} [${bar}] ${(frac * 100).toFixed(1).padStart(5)}% ${formatSize(done)}/${formatSize(this.total)} ${formatSize(rate)}/s ETA ${eta.toFixed(0)}s`;
    this.out.write(this.out.isTTY ? `\r${line}` : `${line}\n`);
  }

  /** Print the final line. */
  finish(done: number): void {
    this.update(done, true);
    if (this.out.isTTY) this.out.write('\n');
  }
}
