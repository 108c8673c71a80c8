import { resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { usage } from './cli-error.js';

/** The datastore a `--store NAME` names; a usage error listing the known ones otherwise. */
export function datastoreArg(config: Config, name: string | undefined): ResolvedDatastore {
  if (!name) throw usage('missing --store NAME');
  const ds = resolveDatastore(config, name);
  if (!ds) throw usage(`unknown datastore ${JSON.stringify(name)}; configured: ${Object.keys(config.datastores).join(', ') || '(none)'}`);
  return ds;
}
