import { closeSync, createReadStream, fstatSync, readSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** Files up to this size are answered from one read (no fstat, no stream): most casync chunks. */
const ONE_READ = 256 * 1024;

/**
 * Answer with a whole open file as the body; the descriptor is closed in every case. HEAD sends headers only.
 * A small file costs one synchronous read (its size is what the read returned); a larger one is streamed on
 * from where that first read stopped. Resolves to the body's size (0 for HEAD), for the metrics.
 */
export async function serveFile(req: IncomingMessage, res: ServerResponse, fd: number, headers: Record<string, string | number>, knownSize?: number): Promise<number> {
  let streaming = false;
  try {
    // A size the caller knows (the chunk store's fstat) sizes the buffer: a 64 KiB chunk does not cost a 256 KiB allocation.
    const want = knownSize !== undefined && knownSize < ONE_READ ? knownSize + 1 : ONE_READ;
    const first = Buffer.allocUnsafe(want);
    const bytesRead = readSync(fd, first, 0, want, 0);
    const size = bytesRead < want ? bytesRead : fstatSync(fd).size;
    res.writeHead(200, { ...headers, 'content-length': size });
    if (req.method === 'HEAD') {
      res.end();
      return 0;
    }
    if (size === bytesRead) {
      res.end(first.subarray(0, bytesRead));
      return size;
    }
    res.write(first);
    // The stream owns the descriptor from here and closes it when it ends or is destroyed.
    streaming = true;
    await pipeline(createReadStream('', { fd, start: bytesRead, highWaterMark: 1024 * 1024 }), res).catch(() => {
      // The client went away mid-body: nothing to answer.
    });
    return size;
  } finally {
    if (!streaming) closeSync(fd);
  }
}
