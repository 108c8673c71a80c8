import type { Redis } from 'ioredis';
import { IndexScriptCode, assertInteger, assertKey, commandFailed } from './errors.js';
import { assertNamespace, gcRunKeys } from './keys.js';
import { guard, registerScripts, runScript } from './script-loader.js';

/** What GcRuns needs of a run's report: its id (the reports themselves are the GC worker's, stored as JSON). */
export interface GcRunRecord {
  runId: string;
}

/** Who holds a datastore's GC lease: the lock key's value. */
export interface GcHolder {
  worker: string;
  runId: string;
  startedAt: number;
  apply: boolean;
}

/** The outcome of {@link GcRuns.begin}. */
export type GcBegin<R> =
  /** The lease is taken; `abandoned`: the run record a dead run left behind (its worker died before it ended). */
  | { begun: true; token: string; abandoned?: R }
  /** Another run holds the lease. */
  | { begun: false; heldBy: GcHolder }
  /** `appliedBefore` was given and an applied run started since (at `at`). */
  | { begun: false; recentAt: number };

/** One datastore's GC records as {@link GcRuns.read} finds them. */
export interface GcRecords<R> {
  store: string;
  /** The lease's holder (undefined: no run holds it). */
  holder?: GcHolder;
  /** The run in progress (or, without a holder of its run id, one abandoned by a dead worker). */
  current?: R;
  last?: R;
}

function parse<T>(text: string | null | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/**
 * The GC worker's records per datastore in Redis, shared by every GC worker of the namespace and read by the gateway:
 * a lease `{ns}:gc:lock:<store>` (one GC per datastore cluster-wide; expires unless renewed), the run in progress
 * `{ns}:gc:current:<store>`, the last finished run `{ns}:gc:last:<store>`, the start of the last applied run
 * `{ns}:gc:applied-at:<store>` (for the schedule), and a cancel request `{ns}:gc:cancel:<store>` (the run id).
 */
export class GcRuns<R extends GcRunRecord> {
  constructor(
    private readonly redis: Redis,
    readonly namespace: string,
  ) {
    assertNamespace('GcRuns', namespace);
    registerScripts(redis);
  }

  /**
   * Take the lease of `store` for `leaseMs` and record `report` as the run in progress. With `appliedBefore`: only if
   * the last applied run started before it (the schedule, so that two workers do not run one datastore twice).
   */
  async begin(store: string, holder: GcHolder, report: R, leaseMs: number, appliedBefore = 0): Promise<GcBegin<R>> {
    const op = 'GcRuns.begin';
    assertKey(op, 'store', store);
    assertInteger(op, 'leaseMs', leaseMs, 1);
    assertInteger(op, 'appliedBefore', appliedBefore);
    const k = gcRunKeys(this.namespace, store);
    const token = JSON.stringify(holder);
    const { code, values } = await runScript(
      this.redis,
      op,
      'gcBegin',
      [k.lock, k.current, k.appliedAt],
      [token, leaseMs, JSON.stringify(report), Date.now(), holder.apply ? '1' : '0', appliedBefore],
      [IndexScriptCode.NOT_OWNER],
    );
    if (code === IndexScriptCode.NOT_OWNER) {
      return { begun: false, heldBy: parse<GcHolder>(values[0] as string) ?? { worker: 'unknown', runId: 'unknown', startedAt: 0, apply: false } };
    }
    if (values[0] === 'recent') return { begun: false, recentAt: Number(values[1]) };
    return { begun: true, token, abandoned: parse<R>(values[1] as string) };
  }

  /** Renew the lease; false when it is no longer this run's (expired, or another run took it). */
  async renew(store: string, token: string, leaseMs: number): Promise<boolean> {
    const op = 'GcRuns.renew';
    assertKey(op, 'token', token);
    assertInteger(op, 'leaseMs', leaseMs, 1);
    const { code } = await runScript(
      this.redis,
      op,
      'extendLock',
      [gcRunKeys(this.namespace, store).lock],
      [token, leaseMs],
      [IndexScriptCode.NOT_FOUND, IndexScriptCode.NOT_OWNER],
    );
    return code === IndexScriptCode.OK;
  }

  /** Record the report of the run in progress; false when the lease is no longer this run's. */
  async progress(store: string, token: string, report: R): Promise<boolean> {
    const op = 'GcRuns.progress';
    assertKey(op, 'token', token);
    const k = gcRunKeys(this.namespace, store);
    const { code } = await runScript(this.redis, op, 'gcProgress', [k.lock, k.current], [token, JSON.stringify(report)], [IndexScriptCode.NOT_FOUND, IndexScriptCode.NOT_OWNER]);
    return code === IndexScriptCode.OK;
  }

  /** End the run: its final report becomes the last one, the lease goes. False when another run began since (nothing changed). */
  async end(store: string, token: string, report: R): Promise<boolean> {
    const op = 'GcRuns.end';
    assertKey(op, 'token', token);
    const k = gcRunKeys(this.namespace, store);
    const { code } = await runScript(this.redis, op, 'gcEnd', [k.lock, k.current, k.last], [token, report.runId, JSON.stringify(report)], [IndexScriptCode.NOT_OWNER]);
    if (code === IndexScriptCode.OK) await guard(op, () => this.redis.del(k.cancel));
    return code === IndexScriptCode.OK;
  }

  /** Record the last report of `store` (a run settled as abandoned). */
  async setLast(store: string, report: R): Promise<void> {
    await guard('GcRuns.setLast', () => this.redis.set(gcRunKeys(this.namespace, store).last, JSON.stringify(report)));
  }

  /** The records of these datastores, in one round trip. */
  async read(stores: readonly string[]): Promise<GcRecords<R>[]> {
    if (stores.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const s of stores) {
      const k = gcRunKeys(this.namespace, s);
      pipeline.get(k.lock).get(k.current).get(k.last);
    }
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (err) {
      throw commandFailed('GcRuns.read', err);
    }
    const value = (i: number) => {
      const [err, v] = replies?.[i] ?? [new Error('no reply'), null];
      if (err) throw commandFailed('GcRuns.read', err);
      return v as string | null;
    };
    return stores.map((store, i) => ({ store, holder: parse<GcHolder>(value(3 * i)), current: parse<R>(value(3 * i + 1)), last: parse<R>(value(3 * i + 2)) }));
  }

  /** Ask the run `runId` of `store` to stop (whichever worker runs it sees the request within a second); kept for `ttlMs`. */
  async requestCancel(store: string, runId: string, ttlMs = 600_000): Promise<void> {
    await guard('GcRuns.requestCancel', () => this.redis.set(gcRunKeys(this.namespace, store).cancel, runId, 'PX', ttlMs));
  }

  /** Whether the run `runId` of `store` was asked to stop. */
  async cancelRequested(store: string, runId: string): Promise<boolean> {
    return (await guard('GcRuns.cancelRequested', () => this.redis.get(gcRunKeys(this.namespace, store).cancel))) === runId;
  }
}
