import { LARDER_NOT_WIRED } from '../larder-run.js';
import { LOCAL_LINK } from '../link.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import { runRedisZaddBenchmark } from '../redis-bench.js';
import { runCommand } from '../processes.js';
import type { Scenario } from '../types.js';
import { scrubPorts } from '../units.js';

/** Scenario 7: cache index admit/touch ops/s against redis-benchmark's pipelined ZADD on the same Redis. */
export const indexThroughput: Scenario = {
  name: 'index-throughput',
  title: 'Index throughput: admit/touch ops/s vs pipelined ZADD',
  description:
    "Larder's cache index admit and touch operations per second against `redis-benchmark -P 16` ZADD on the same private " +
    "redis-server (on a key of its own, deleted afterwards). Higher is better; the ratio says what share of Redis' raw " +
    'pipelined ZADD rate the index reaches.',
  needs: ['redis-server', 'redis-benchmark', 'redis-cli'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const redis = await ctx.redis();
    const c = 'one Redis, loopback';
    ctx.log('baseline: redis-benchmark pipelined ZADD');
    const zadd = await runRedisZaddBenchmark({ host: redis.host, port: redis.port, requests: ctx.sizes.redisRequests, pipeline: 16 });
    const version = await runCommand('redis-server', ['--version'], { timeoutMs: 5000 }).catch(() => undefined);
    const base = out.row({
      case: c,
      system: 'redis-benchmark ZADD, pipeline 16',
      link: LOCAL_LINK,
      figures: [fig('ops/s', zadd.opsPerSec, 'ops/s', 'higher'), fig('p50', zadd.p50Ms, 'ms', 'lower')],
      note: `\`${scrubPorts(zadd.command)}\`${version ? `; ${version.stdout.trim().split(' ').slice(0, 3).join(' ')}` : ''}`,
    });
    const hook = ctx.larder;
    if (hook?.indexBench) {
      ctx.log('larder: index admit/touch');
      await runCommand('redis-cli', ['-h', redis.host, '-p', String(redis.port), 'FLUSHALL'], { timeoutMs: 10_000 });
      const r = await hook.indexBench({ redis, durationMs: ctx.sizes.loadDurationMs, keyPrefix: 'larder-bench-index:' });
      const admit = out.row({ case: c, system: 'Larder index admit', link: LOCAL_LINK, figures: [fig('ops/s', r.admitOpsPerSec, 'ops/s', 'higher')] });
      const touch = out.row({ case: c, system: 'Larder index touch', link: LOCAL_LINK, figures: [fig('ops/s', r.touchOpsPerSec, 'ops/s', 'higher')] });
      out.ratio(c, 'admit / ZADD pipelined', 'ops/s', admit, base);
      out.ratio(c, 'touch / ZADD pipelined', 'ops/s', touch, base);
    } else out.note(ctx.larder ? 'The Larder hook has no indexBench: only the baseline was measured.' : LARDER_NOT_WIRED);
    return out.done();
  },
};
