import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { ConfigError, parseConfigText, readEnvironment } from '@larder/config';
import { CliError } from './cli-error.js';

/** The editor to run: $VISUAL, else $EDITOR, else vi. */
export function editorCommand(env?: NodeJS.ProcessEnv): string {
  return readEnvironment(env).editor;
}

async function askYes(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return !/^n/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/**
 * Let the user edit `text` in $EDITOR until it validates (or they give up). Returns the new text,
 * or undefined when nothing changed. Without a terminal an invalid edit is refused at once.
 */
export async function editUntilValid(text: string, label: string): Promise<string | undefined> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-config-'));
  const file = path.join(dir, 'larder.yaml');
  await writeFile(file, text);
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  let keep = false;
  try {
    for (;;) {
      const editor = editorCommand();
      const r = spawnSync(`${editor} ${JSON.stringify(file)}`, { shell: true, stdio: 'inherit' });
      if (r.error || r.status !== 0) {
        keep = true;
        throw new CliError(
          `the editor (${editor}) failed${r.status ? ` with exit code ${r.status}` : ''}${r.error ? `: ${r.error.message}` : ''}; nothing was changed (your copy: ${file})`,
          1,
          { cause: r.error },
        );
      }
      const edited = await readFile(file, 'utf8');
      if (edited === text) return undefined;
      try {
        parseConfigText(edited, label);
        return edited;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (interactive && (await askYes(`${err.message}\nEdit again? [Y/n] `))) continue;
        keep = true;
        throw new CliError(`refused, nothing changed: ${err.message} (your edit is kept in ${file})`, 1, { cause: err });
      }
    }
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}
