import { haveCommand, runCommand } from './processes.js';

/** Commands whose versions a report records. */
const VERSIONED: Record<string, string[]> = {
  nbdkit: ['--version'],
  nbdcopy: ['--version'],
  fio: ['--version'],
  nginx: ['-v'],
  wrk: ['-v'],
  'redis-server': ['--version'],
  node: ['--version'],
};

/** First line of `cmd`'s version output, or `missing`. */
export async function toolVersion(cmd: string): Promise<string> {
  if (!(await haveCommand(cmd))) return 'missing';
  try {
    const r = await runCommand(cmd, VERSIONED[cmd] ?? ['--version'], { timeoutMs: 10_000 });
    const text = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => l.trim()) ?? '';
    // The first version-looking word (`1.32.5`, `v=7.0.15`, `nginx/1.22.1`, `fio-3.33`, `debian/4.1.0-3+b2`).
    const m = /(\d+\.\d+(?:\.\d+)?(?:[-+~][\w.+~-]*)?)/.exec(text);
    return m ? (m[1] as string) : text.trim().slice(0, 60);
  } catch {
    return 'unknown';
  }
}

/** Versions of every tool the bench uses. */
export async function toolVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const cmd of Object.keys(VERSIONED)) out[cmd] = await toolVersion(cmd);
  return out;
}

/** The commands among `needs` that are not on PATH. */
export async function missingTools(needs: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const cmd of needs) if (!(await haveCommand(cmd))) missing.push(cmd);
  return missing;
}
