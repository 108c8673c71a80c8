import { parseArgs } from 'node:util';
import { formatSize, parseSize } from '@larder/config';
import { importRawImage } from '@larder/datastore';
import { usage } from '../cli-error.js';
import type { Command } from '../command.js';
import { datastoreArg } from '../datastore-arg.js';
import { withOwnedWrites } from '../owned-writes.js';
import { inBudget } from '../budgeted-run.js';
import { Progress } from '../progress.js';

/** `larder import <raw-image> --store NAME --name IMAGE`. */
export const importCommand: Command = {
  summary: 'import a raw disk image into a pbs datastore (4 MiB chunks, .fidx index)',
  usage: 'larder import <raw-image> --store NAME --name IMAGE [--chunk-size 4MiB]',
  async run({ args, config, out }) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { store: { type: 'string' }, name: { type: 'string' }, 'chunk-size': { type: 'string' } } });
    const file = positionals[0];
    if (!file || positionals.length > 1) throw usage('import takes exactly one raw image file');
    const name = values.name;
    if (!name) throw usage('missing --name IMAGE');
    const chunkSize = values['chunk-size'] ? parseSize(values['chunk-size']) : undefined;
    if (values['chunk-size'] && !chunkSize) throw usage(`bad --chunk-size ${values['chunk-size']}`);
    const ds = datastoreArg(config(), values.store);
    let progress: Progress | undefined;
    const r = await inBudget(config(), ds, () =>
      withOwnedWrites(config(), ds, (owned) =>
        importRawImage({
          ds,
          owned,
          file,
          name,
          chunkSize,
          onProgress: (p) => {
            progress ??= new Progress('import', p.of === 0 ? 0 : Math.ceil((p.bytes / p.chunks) * p.of));
            progress.update(p.bytes);
          },
        }),
      ),
    );
    progress?.finish(r.size);
    const pct = r.storedBytes ? ((100 * r.uploadedBytes) / r.storedBytes).toFixed(1) : '0';
    out.write(
      `imported ${ds.name}/${r.image}: ${formatSize(r.size)} in ${r.chunks} chunks (${r.uniqueChunks} unique); ` +
        `uploaded ${r.uploadedChunks} chunks, ${formatSize(r.uploadedBytes)} of ${formatSize(r.storedBytes)} stored (${pct}%)\n`,
    );
  },
};
