import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '@larder/config';
import { stringify } from 'yaml';

/** Write a validated config as the config file a test stack's config-service owns (`<dir>/config/larder.yaml`). */
export async function writeServedConfig(dir: string, config: Config): Promise<string> {
  const file = path.join(dir, 'config', 'larder.yaml');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `# test stack config, owned by the config-service\n${stringify(config)}`);
  return file;
}
