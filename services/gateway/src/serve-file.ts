import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** Stream an open file (or a byte range of it) as the response body, then close it; HEAD sends headers only. */
export async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  fh: FileHandle,
  status: number,
  headers: Record<string, string | number>,
  range?: { start: number; end: number },
): Promise<void> {
  try {
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fh.createReadStream(range ? { start: range.start, end: range.end - 1, autoClose: false } : { autoClose: false });
    await pipeline(stream, res).catch(() => {
      // The client went away mid-body: nothing to answer.
    });
  } finally {
    await fh.close().catch(() => {});
  }
}
