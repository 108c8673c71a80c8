import type { Config } from '@larder/config';
import { parseIndex, type ImageIndex, type DigestAlgorithm, type CaibxIndex } from '@larder/formats';
import { CliError } from './cli-error.js';
import { gatewayGet } from './gateway-client.js';
import { imageArg } from './image-arg.js';

/** Fetch and parse an image's index through the gateway; also tells the digest algorithm of its chunks. */
export async function fetchImageIndex(config: Config, arg: string | undefined): Promise<{ store: string; image: string; index: ImageIndex; alg: DigestAlgorithm; imagePath: string }> {
  const { store, image, path } = imageArg(arg);
  const res = await gatewayGet(config, path.replace('%s', 'indexes'));
  const bytes = Buffer.from(await res.arrayBuffer());
  let index: ImageIndex;
  try {
    index = parseIndex(image, bytes);
  } catch (err) {
    throw new CliError(`index of ${store}/${image} is malformed: ${(err as Error).message}`, 1, { cause: err });
  }
  const alg: DigestAlgorithm = index.format === 'caibx' ? (index as CaibxIndex).digestAlgorithm : 'sha256';
  return { store, image, index, alg, imagePath: path.replace('%s', 'images') };
}
