import { parseArgs } from 'node:util';
import { formatSize } from '@larder/config';
import { forEachLimit } from '@larder/datastore';
import { zeroChunkDigest } from '@larder/formats';
import { usage } from '../cli-error.js';
import type { Command } from '../command.js';
import { gatewayGet, retryOption } from '../gateway-client.js';
import { fetchImageIndex } from '../image-index.js';
import { Progress } from '../progress.js';

/** How long one chunk request may take before it is abandoned and retried (a miss is answered within the gateway's requestTimeout, 20 s by default). */
const STALL_MS = 60_000;

/** `larder warm STORE/IMAGE`: bring every chunk of an image into the volume, at low priority; transient failures are retried for up to `--retry-for`. */
export const warm: Command = {
  summary: 'prefetch a whole image into the cache (low priority)',
  usage: 'larder warm STORE/IMAGE [--parallel 8] [--retry-for 2m]',
  async run({ args, config, out, err }) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { parallel: { type: 'string' }, 'retry-for': { type: 'string' } } });
    if (positionals.length !== 1) throw usage('warm takes STORE/IMAGE');
    const parallel = Number(values.parallel ?? 8);
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw usage('--parallel must be 1..64');
    const retry = retryOption(values['retry-for'], 'warm', err);
    const cfg = config();
    const { store, image, index, alg } = await fetchImageIndex(cfg, positionals[0], retry);
    const unique = new Map<string, number>();
    for (let i = 0; i < index.chunkCount; i++) {
      const len = index.chunkEnd(i) - index.chunkStart(i);
      const d = index.chunkDigest(i);
      if (d !== zeroChunkDigest(alg, len)) unique.set(d, len);
    }
    const total = [...unique.values()].reduce((a, b) => a + b, 0);
    const progress = new Progress('warm', total, err);
    let done = 0;
    let hits = 0;
    await forEachLimit(unique, parallel, async ([d, len]) => {
      const head = { method: 'HEAD', headers: { 'x-larder-priority': 'low' } };
      const res = await retry.run(() => gatewayGet(cfg, `/v1/stores/${encodeURIComponent(store)}/chunks/${d}`, { ...head, signal: AbortSignal.timeout(STALL_MS) }));
      if (res.headers.get('x-larder-cache') === 'hit') hits++;
      done += len;
      progress.update(done);
    });
    progress.finish(done);
    out.write(
      `warmed ${store}/${image}: ${unique.size} chunks (${formatSize(total)}), ${hits} already cached, ${index.chunkCount - [...unique.keys()].length} zero or repeated chunks skipped${retry.summary()}\n`,
    );
  },
};
