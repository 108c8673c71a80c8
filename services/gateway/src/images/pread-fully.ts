import { read as readCb } from 'node:fs';
import { StatusError } from '@larder/errors';

/** Read exactly `length` bytes at `position` of a file into `buf` at `at` (positional reads in the thread pool). */
export function preadFully(fd: number, buf: Buffer, at: number, length: number, position: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      readCb(fd, buf, at + done, length - done, position + done, (err, n) => {
        if (err) reject(new StatusError(500, `${what}: reading from the volume failed: ${err.message}`, { cause: err }));
        else if (done + n === length) resolve();
        else if (n === 0) reject(new StatusError(500, `${what}: short read from the volume (${done} of ${length} bytes)`));
        else step(done + n);
      });
    };
    step(0);
  });
}
