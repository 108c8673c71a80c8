/** Parsed command line of `pnpm bench`. */
export interface CliArgs {
  quick: boolean;
  list: boolean;
  help: boolean;
  keep: boolean;
  /** Scenario names; empty = all. */
  scenarios: string[];
  /** Results directory (default bench/results, bench/results/quick with --quick). */
  out?: string;
  /** Scratch directory parent (default $LARDER_BENCH_WORKDIR or the OS temp dir). */
  workDir?: string;
  latencyMs?: number;
  bandwidthMiB?: number;
}

/** Usage text. */
export const USAGE = `Usage: pnpm bench [--quick] [--list] [SCENARIO...] [options]

  --quick              every scenario on small data (about a minute); figures prove the harness only
  --list               list the scenarios and exit
  --latency-ms N       one-way latency of the WAN link to S3 (default 20)
  --bandwidth-mib N    bandwidth cap per connection in MiB/s (default 64)
  --out DIR            results directory (default bench/results, or bench/results/quick with --quick)
  --workdir DIR        where scratch data goes (default $LARDER_BENCH_WORKDIR or the OS temp dir)
  --keep               keep the scratch directory
  --help               this text
`;

/** Parse `argv` (without node and script). Throws on an unknown option or a bad number. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { quick: false, list: false, help: false, keep: false, scenarios: [] };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--':
        break;
      case '--quick':
        args.quick = true;
        break;
      case '--list':
        args.list = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--keep':
        args.keep = true;
        break;
      case '--out':
        args.out = value();
        break;
      case '--workdir':
        args.workDir = value();
        break;
      case '--latency-ms':
        args.latencyMs = num(flag, value());
        break;
      case '--bandwidth-mib':
        args.bandwidthMiB = num(flag, value());
        if (args.bandwidthMiB === 0) throw new Error('--bandwidth-mib must be > 0');
        break;
      default:
        if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
        args.scenarios.push(a);
    }
  }
  return args;
}
