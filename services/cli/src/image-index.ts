import { resolveDatastore, type Config } from '@larder/config';
import { parseIndex, type ImageIndex, type DigestAlgorithm, type CaibxIndex } from '@larder/formats';
import { CliError } from './cli-error.js';
import { gatewayGet, type GatewayRetry } from './gateway-client.js';
import { imageArg } from './image-arg.js';

/**
 * Fetch and parse an image's index through the gateway; also tells the digest algorithm of its chunks, decided as
 * the gateway decides it: a `.caibx` names its own, any other index uses the datastore's configured `digest`.
 * With `retry`, transient failures of the request are retried.
 */
export async function fetchImageIndex(
  config: Config,
  arg: string | undefined,
  retry?: GatewayRetry,
): Promise<{ store: string; image: string; index: ImageIndex; alg: DigestAlgorithm; imagePath: string }> {
  const { store, image, path } = imageArg(arg);
  const ds = resolveDatastore(config, store);
  if (!ds)
    throw new CliError(
      `unknown datastore ${JSON.stringify(store)} (its digest algorithm comes from the config); configured: ${Object.keys(config.datastores).join(', ') || '(none)'}`,
    );
  const get = async () => Buffer.from(await (await gatewayGet(config, path.replace('%s', 'indexes'))).arrayBuffer());
  const bytes = retry ? await retry.run(get) : await get();
  let index: ImageIndex;
  try {
    index = parseIndex(image, bytes);
  } catch (err) {
    throw new CliError(`index of ${store}/${image} is malformed: ${(err as Error).message}`, 1, { cause: err });
  }
  const alg: DigestAlgorithm = index.format === 'caibx' ? (index as CaibxIndex).digestAlgorithm : ds.digest;
  return { store, image, index, alg, imagePath: path.replace('%s', 'images') };
}
