import { usage } from './cli-error.js';

/** Split `{store}/{image}` (the image may contain slashes) and encode it for a gateway path. */
export function imageArg(arg: string | undefined): { store: string; image: string; path: string } {
  const slash = arg?.indexOf('/') ?? -1;
  if (!arg || slash <= 0 || slash === arg.length - 1) throw usage(`expected STORE/IMAGE (e.g. demo/demo-disk.img.fidx), got ${JSON.stringify(arg ?? '')}`);
  const store = arg.slice(0, slash);
  const image = arg.slice(slash + 1);
  const path = `/v1/stores/${encodeURIComponent(store)}/%s/${image.split('/').map(encodeURIComponent).join('/')}`;
  return { store, image, path };
}
