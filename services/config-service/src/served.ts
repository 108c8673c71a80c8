import path from 'node:path';
import type { ParsedConfigText } from '@larder/config';
import { digestOf } from './file-io.js';
import type { ServedConfig } from './types.js';

/** One generation of `file` as the config-service serves it: the text as written, its mapping and its validated config. */
export function servedConfig(file: string, generation: number, text: string, parsed: ParsedConfigText, at: string): ServedConfig {
  return {
    generation,
    digest: digestOf(text),
    file,
    baseDir: path.dirname(file),
    text,
    raw: parsed.raw,
    updatedAt: at,
    config: parsed.config,
  };
}
