import { afterAll, describe, expect, it } from 'vitest';
import { ChunkIndex } from './chunk-index.js';
import { IndexError, IndexScriptCode } from './errors.js';
import { FlightLocks } from './flight-locks.js';
import { flightKey, indexKeys } from './keys.js';
import { s3RequestCounts, s3RequestField } from './stats-fields.js';
import { runScript } from './script-loader.js';
import { cleanup, connect, testNamespace } from './test-redis.js';

const ns = testNamespace('admit-fetched');
const connections = connect(1);
const redis = connections[0]!;
const index = new ChunkIndex(redis, ns);
const locks = new FlightLocks(redis, ns);

afterAll(() => cleanup(ns, connections));

describe('ChunkIndex.admitFetched', () => {
  it('admits, counts the GETs and releases the owner lock in one step', async () => {
    const token = (await locks.acquire('demo/aa', 5_000)) as string;
    const r = await index.admitFetched('demo/aa', 100, { token, s3Gets: 2, s3Bytes: 100 }, 1_000);
    expect(r).toEqual({ admitted: true, usedBytes: 100, chunkCount: 1, lockReleased: true });
    expect(await redis.exists(flightKey(ns, 'demo/aa'))).toBe(0);
    expect(await index.stats()).toMatchObject({ s3Gets: 2, s3Bytes: 100 });
    expect(await index.sizeOf('demo/aa')).toBe(100);
  });

  it("leaves another owner's lock alone and does not count a chunk twice", async () => {
    const token = (await locks.acquire('demo/bb', 5_000)) as string;
    await index.admitFetched('demo/bb', 50, { token, s3Gets: 1, s3Bytes: 50 });
    const other = (await locks.acquire('demo/bb', 5_000)) as string;
    const r = await index.admitFetched('demo/bb', 50, { token, s3Gets: 0, s3Bytes: 0 });
    expect(r.admitted).toBe(false);
    expect(r.lockReleased).toBe(false);
    expect(await redis.get(flightKey(ns, 'demo/bb'))).toBe(other);
    expect(r.usedBytes).toBe(150);
  });

  it('rejects bad arguments and changes nothing', async () => {
    const before = await redis.get(indexKeys(ns).used);
    const keys = Object.values(indexKeys(ns));
    const err = await runScript(redis, 'test', 'admitFetched', [keys[0]!, keys[1]!, keys[2]!, keys[3]!, flightKey(ns, 'demo/cc')], ['demo/cc', '1', '1', 't', '-1', '0']).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IndexError);
    expect((err as IndexError).code).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect((err as IndexError).message).toMatch(/s3Gets/);
    expect(await redis.get(indexKeys(ns).used)).toBe(before);
    expect(await index.has('demo/cc')).toBe(false);
  });

  it('adds further counters (S3 GETs by outcome) in the same step, and refuses an odd or malformed tail', async () => {
    const token = (await locks.acquire('demo/dd', 5_000)) as string;
    await index.admitFetched('demo/dd', 10, {
      token,
      s3Gets: 3,
      s3Bytes: 10,
      counters: { [s3RequestField('get', 'ok')]: 1, [s3RequestField('get', 'error')]: 2, 's3.get.timeout': 0 },
    });
    const stats = await index.stats();
    expect(stats).toMatchObject({ 's3.get.ok': 1, 's3.get.error': 2 });
    expect(stats['s3.get.timeout']).toBeUndefined();
    expect(s3RequestCounts(stats).get).toMatchObject({ ok: 1, error: 2 });
    const keys = Object.values(indexKeys(ns));
    const run = (tail: string[]) =>
      runScript(redis, 'test', 'admitFetched', [keys[0]!, keys[1]!, keys[2]!, keys[3]!, flightKey(ns, 'demo/ee')], ['demo/ee', '1', '1', 't', '0', '0', ...tail]).catch(
        (e: unknown) => e,
      );
    expect(((await run(['s3.get.ok'])) as IndexError).code).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect(((await run(['s3.get.ok', '-1'])) as IndexError).code).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect(await index.has('demo/ee')).toBe(false);
  });
});
