/** A structured logger: one JSON line per event on stderr. */
export interface Logger {
  debug(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
type Level = keyof typeof LEVELS;

/** Read on every call (tests change it at run time), but only the one variable: a filtered debug line must cost nothing. */
function threshold(): number {
  return LEVELS[(process.env.LARDER_LOG_LEVEL ?? 'info') as Level] ?? LEVELS.info;
}

/** A logger for one component; LARDER_LOG_LEVEL (debug, info, warn, error, silent) filters it. */
export function createLogger(component: string): Logger {
  const at = (level: Exclude<Level, 'silent'>) => (msg: string, meta?: object) => {
    if (LEVELS[level] < threshold()) return;
    const line: Record<string, unknown> = { t: new Date().toISOString(), level, component, msg, ...meta };
    for (const [k, v] of Object.entries(line)) if (v instanceof Error) line[k] = v.message;
    process.stderr.write(`${JSON.stringify(line)}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
