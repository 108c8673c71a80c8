import { parseArgs } from 'node:util';
import { formatSize } from '@larder/config';
import { pushCasyncStore } from '@larder/datastore';
import { usage } from '../cli-error.js';
import type { Command } from '../command.js';
import { datastoreArg } from '../datastore-arg.js';
import { withOwnedWrites } from '../owned-writes.js';
import { inBudget } from '../budgeted-run.js';

/** `larder push-casync <store-dir> [--index FILE.caibx …] --store NAME`. */
export const pushCasync: Command = {
  summary: 'upload a casync chunk store (and .caibx indexes) into a casync datastore',
  usage: 'larder push-casync <store-dir> [--index FILE.caibx ...] --store NAME',
  async run({ args, config, out, err }) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { store: { type: 'string' }, index: { type: 'string', multiple: true } } });
    const dir = positionals[0];
    if (!dir || positionals.length > 1) throw usage('push-casync takes exactly one casync store directory');
    const ds = datastoreArg(config(), values.store);
    const r = await inBudget(config(), ds, () =>
      withOwnedWrites(config(), ds, (owned) =>
        pushCasyncStore({
          ds,
          owned,
          storeDir: dir,
          indexes: values.index ?? [],
          onProgress: (p) => {
            if (p.chunks % 500 === 0) err.write(`push-casync: ${p.chunks} chunks checked, ${p.uploaded} uploaded\n`);
          },
        }),
      ),
    );
    out.write(`pushed ${r.chunks} chunks to ${ds.name} (${r.uploadedChunks} new, ${formatSize(r.uploadedBytes)})${r.indexes.length ? `; indexes: ${r.indexes.join(', ')}` : ''}\n`);
  },
};
