import { constants } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatSize } from '@larder/config';
import { forEachLimit } from '@larder/datastore';
import { digest } from '@larder/formats';
import { CliError, usage } from '../cli-error.js';
import type { Command } from '../command.js';
import { gatewayGet, networkMessage, retryOption, stalled } from '../gateway-client.js';
import { fetchImageIndex } from '../image-index.js';
import { Progress } from '../progress.js';

const SEGMENT = 32 * 2 ** 20;
/** A read that gets no bytes for this long is abandoned and retried (the gateway answers a miss within its requestTimeout, 20 s by default). */
const STALL_MS = 60_000;

/**
 * `larder restore STORE/IMAGE OUT`: parallel ranged reads through the gateway, a progress bar, then a digest check
 * of every chunk. A read that fails transiently (502/503/504, the gateway restarting, a stall) is retried from the
 * byte it reached, for up to `--retry-for` of failures.
 */
export const restore: Command = {
  summary: 'restore an image to a file or block device (parallel, verified)',
  usage: 'larder restore STORE/IMAGE OUT [--parallel 8] [--force] [--retry-for 2m]',
  async run({ args, config, out, err }) {
    const options = { parallel: { type: 'string' }, force: { type: 'boolean' }, 'retry-for': { type: 'string' } } as const;
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options });
    const [arg, target] = positionals;
    if (!arg || !target || positionals.length > 2) throw usage('restore takes STORE/IMAGE and an output path');
    const parallel = Number(values.parallel ?? 8);
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw usage('--parallel must be 1..64');
    const retry = retryOption(values['retry-for'], 'restore', err);
    const cfg = config();
    const { store, image, index, alg, imagePath } = await fetchImageIndex(cfg, arg, retry);

    const existing = await stat(target).catch(() => undefined);
    const device = existing?.isBlockDevice() ?? false;
    if (existing && !device && !values.force) throw new CliError(`${target} exists; pass --force to replace it`);
    // A file is written beside the target and renamed when complete and verified: no half-restored file under the name.
    const temp = device ? target : `${target}.larder-partial`;
    const fh = await open(temp, device ? constants.O_WRONLY : constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o644);
    const progress = new Progress('restore', index.size, err);
    let done = 0;
    try {
      if (!device) await fh.truncate(index.size);
      const segments = Array.from({ length: Math.ceil(index.size / SEGMENT) }, (_, i) => i * SEGMENT);
      await forEachLimit(segments, parallel, async (start) => {
        const end = Math.min(index.size, start + SEGMENT);
        let pos = start;
        // Each attempt asks for what is still missing: a retry goes on from the byte the last one reached.
        await retry.run(async () => {
          // The connection may fail after the last byte arrived: then nothing is missing (an empty range would be a 416).
          if (pos === end) return;
          const from = pos;
          const abort = new AbortController();
          const stall = setTimeout(() => abort.abort(stalled(`bytes ${from}-${end - 1}`, STALL_MS)), STALL_MS);
          try {
            const res = await gatewayGet(cfg, imagePath, { headers: { range: `bytes=${from}-${end - 1}` }, signal: abort.signal });
            if (res.status !== 206 && !(from === 0 && end === index.size)) throw new CliError(`gateway ignored the range ${from}-${end - 1} (status ${res.status})`);
            for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
              stall.refresh();
              await fh.write(piece, 0, piece.byteLength, pos);
              pos += piece.byteLength;
              done += piece.byteLength;
              progress.update(done);
            }
          } catch (e) {
            if (abort.signal.aborted) throw abort.signal.reason;
            throw e instanceof CliError ? e : new CliError(`reading bytes ${from}-${end - 1} from the gateway: ${networkMessage(e)}`, 1, { cause: e });
          } finally {
            clearTimeout(stall);
          }
          if (pos !== end) throw new CliError(`short read at ${from}: got ${pos - from} of ${end - from} bytes`);
        });
      });
      progress.finish(done);
      await fh.sync();
      // Check the result: every chunk of the output against the index's digest.
      for (let i = 0; i < index.chunkCount; i++) {
        const len = index.chunkEnd(i) - index.chunkStart(i);
        const buf = Buffer.allocUnsafe(len);
        await fh.read(buf, 0, len, index.chunkStart(i));
        if (digest(alg, buf).toString('hex') !== index.chunkDigest(i))
          throw new CliError(`verification failed: chunk ${i} at offset ${index.chunkStart(i)} does not match the index`);
      }
    } catch (e) {
      await fh.close();
      if (!device) await unlink(temp).catch(() => {});
      throw e;
    }
    await fh.close();
    if (!device) await rename(temp, target);
    out.write(`restored ${store}/${image} to ${target}: ${formatSize(index.size)}, ${index.chunkCount} chunks verified${retry.summary()}\n`);
  },
};
