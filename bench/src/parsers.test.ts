import { describe, expect, it } from 'vitest';
import { parseArgs } from './cli-args.js';
import { parseFioJson, parseFioJsonJobs } from './fio.js';
import { parseRedisBenchmarkCsv } from './redis-bench.js';
import { parseWrkDuration, parseWrkOutput, parseWrkSize } from './wrk.js';
import { describeLink, makeLink } from './link.js';
import { formatBytes, percentile, scrubPorts, MiB } from './units.js';

const WRK = `Running 5s test @ http://127.0.0.1:37389/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.45ms    3.09ms  59.44ms   97.14%
    Req/Sec    25.42k    12.41k   47.21k    59.00%
  Latency Distribution
     50%  890.00us
     75%    1.63ms
     90%    2.38ms
     99%   13.00ms
  253272 requests in 5.03s, 15.52GB read
  Non-2xx or 3xx responses: 3
Requests/sec:  50373.23
Transfer/sec:      3.09GB
`;

describe('parsers', () => {
  it('reads wrk --latency output', () => {
    const r = parseWrkOutput(WRK, 64);
    expect(r.requests).toBe(253272);
    expect(r.requestsPerSec).toBeCloseTo(50373.23);
    expect(r.p50Ms).toBeCloseTo(0.89);
    expect(r.p99Ms).toBeCloseTo(13);
    expect(r.ms).toBeCloseTo(5030);
    expect(r.bytes).toBeCloseTo(15.52 * 1024 * MiB, -3);
    expect(r.errors).toBe(3);
    expect(parseWrkDuration('1.02s')).toBeCloseTo(1020);
    expect(parseWrkSize('812.00KB')).toBeCloseTo(812 * 1024);
  });

  it('reads fio JSON (after the nbd engine greeting), per job', () => {
    const doc = {
      jobs: [
        { jobname: 'random', error: 0, read: { iops: 1000, bw_bytes: 2 * MiB, total_ios: 5000, clat_ns: { percentile: { '50.000000': 109056, '99.000000': 481280 } } } },
        { jobname: 'copy', error: 0, read: { iops: 10, bw_bytes: 100 * MiB, total_ios: 50, clat_ns: {} } },
      ],
    };
    const text = `fio: connected to NBD server\n${JSON.stringify(doc)}`;
    const first = parseFioJson(text);
    expect(first.p50Ms).toBeCloseTo(0.109056);
    expect(first.p99Ms).toBeCloseTo(0.48128);
    expect(first.mibPerSec).toBe(2);
    expect(parseFioJsonJobs(text).get('copy')?.mibPerSec).toBe(100);
    expect(() => parseFioJson('no json')).toThrow();
  });

  it('reads redis-benchmark --csv', () => {
    const csv = `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"ZADD larder-bench:zadd __rand_int__ m:__rand_int__","125999.99","6.099","1.944","7.663","7.927","7.959","7.959"
`;
    expect(parseRedisBenchmarkCsv(csv)).toEqual({ opsPerSec: 125999.99, p50Ms: 7.663 });
  });

  it('parses the command line', () => {
    expect(parseArgs(['--quick', 'cold-restore', '--latency-ms', '5', '--bandwidth-mib=32', 'mixed'])).toMatchObject({
      quick: true,
      scenarios: ['cold-restore', 'mixed'],
      latencyMs: 5,
      bandwidthMiB: 32,
    });
    expect(parseArgs(['--', '--list']).list).toBe(true);
    expect(() => parseArgs(['--nope'])).toThrow(/unknown option/);
    expect(() => parseArgs(['--latency-ms', 'x'])).toThrow();
  });

  it('describes links and sizes', () => {
    expect(describeLink(makeLink())).toBe('WAN 20 ms one-way (40 ms RTT), 64 MiB/s per connection');
    expect(makeLink(5, 16)).toEqual({ latencyMs: 5, bandwidthBytesPerSec: 16 * MiB, handshakeMs: 10 });
    expect(formatBytes(4 * MiB)).toBe('4 MiB');
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([], 99)).toBe(0);
    expect(scrubPorts('nbdkit -p 4321 url=http://127.0.0.1:9999/x')).toBe('nbdkit -p PORT url=http://127.0.0.1:PORT/x');
  });
});
