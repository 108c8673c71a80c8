import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { usage } from '../cli-error.js';
import type { Command } from '../command.js';
import { gatewayGet } from '../gateway-client.js';

/** `larder get <store> <digest> [-o FILE]`: a chunk object through the gateway (cached on the way). */
export const get: Command = {
  summary: 'fetch a chunk through the gateway (as stored: DataBlob or zstd frame)',
  usage: 'larder get <store> <digest> [-o FILE]',
  async run({ args, config, out, err }) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { output: { type: 'string', short: 'o' } } });
    const [store, digest] = positionals;
    if (!store || !digest || positionals.length > 2) throw usage('get takes a store and a digest');
    const res = await gatewayGet(config(), `/v1/stores/${encodeURIComponent(store)}/chunks/${encodeURIComponent(digest)}`);
    const body = Readable.fromWeb(res.body as never);
    if (values.output) {
      await pipeline(body, createWriteStream(values.output));
      err.write(`${values.output}: ${res.headers.get('content-length')} bytes (cache ${res.headers.get('x-larder-cache')})\n`);
    } else {
      await pipeline(body, out);
    }
  },
};
