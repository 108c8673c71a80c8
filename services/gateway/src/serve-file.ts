import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** Files up to this size are answered from one read (no fstat, no stream): most casync chunks. */
const ONE_READ = 256 * 1024;

/**
 * Answer with a whole open file as the body, then close it; HEAD sends headers only. A small file costs one
 * read (its size is what the read returned); a larger one is streamed after that first block.
 */
export async function serveWholeFile(req: IncomingMessage, res: ServerResponse, fh: FileHandle, headers: Record<string, string | number>): Promise<void> {
  try {
    const first = Buffer.allocUnsafe(ONE_READ);
    const { bytesRead } = await fh.read(first, 0, ONE_READ, 0);
    const size = bytesRead < ONE_READ ? bytesRead : (await fh.stat()).size;
    res.writeHead(200, { ...headers, 'content-length': size });
    if (req.method === 'HEAD') return void res.end();
    if (size === bytesRead) return void res.end(first.subarray(0, bytesRead));
    res.write(first);
    await pipeline(fh.createReadStream({ start: ONE_READ, autoClose: false, highWaterMark: 1024 * 1024 }), res).catch(() => {
      // The client went away mid-body: nothing to answer.
    });
  } finally {
    await fh.close().catch(() => {});
  }
}
