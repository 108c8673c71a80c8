import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { assertNamespace, budgetKeys } from './keys.js';
import { replyInt, runScript } from './script-loader.js';

/** S3 operation classes a budget limits separately: GET/HEAD, PUT/POST/COPY/DELETE, LIST. */
export type BudgetClass = 'get' | 'put' | 'list';
/** Who is asking: a client's read, readahead, or background work (warm, GC, imports). */
export type BudgetPriority = 'client' | 'readahead' | 'background';

/** One budget's settings (the config's `budgets.<name>`). */
export interface BudgetSettings {
  getPerSecond?: number;
  putPerSecond?: number;
  listPerSecond?: number;
  concurrency?: number;
  throttleStatuses: number[];
}

/** A granted request slot. */
export interface BudgetLease {
  /** S3 answered with `status` (undefined: no answer at all); true when it is a throttle status (the rate is cut). */
  answered(status: number | undefined): boolean;
  /** The request is over (its body read or abandoned): its concurrency slot is free again. Idempotent. */
  release(): void;
  /** The second (Unix time, of the Redis clock; of this process's clock while degraded) the slot was granted in. */
  readonly second: number;
  /**
   * When (this process's `Date.now()`) the request must be sent by to reach S3 within that second (the grant's second
   * less the guard); undefined when the class has no rate limit. A request not sent by then takes another slot.
   */
  readonly sendBy?: number;
}

/** The wait for a slot outlived the request's deadline (named as a timeout, so S3 error classification agrees). */
export class BudgetTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(
    readonly budget: string,
    readonly cls: BudgetClass,
  ) {
    super(`no ${cls.toUpperCase()} slot of S3 request budget ${budget} within the request's deadline`);
  }
}

/** Per class and budget, for status and metrics. */
export interface BudgetClassStatus {
  /** Configured requests per second (undefined: unlimited). */
  limit?: number;
  /** The rate in force now, after AIMD cuts (undefined: unlimited). */
  rate?: number;
  /** Throttle answers seen by every process (since the state last expired, 10 min without requests). */
  throttled: number;
  /** Requests granted in the current second (all processes). */
  thisSecond: number;
  /** Requests of this process waiting for a slot. */
  waiting: number;
}

export interface BudgetStatus {
  name: string;
  concurrency?: number;
  /** Requests in flight (all processes). */
  inflight: number;
  /** Processes that used the budget in the last 10 s. */
  processes: number;
  /** True while Redis cannot be reached: this process limits itself to its share. */
  degraded: boolean;
  classes: Record<BudgetClass, BudgetClassStatus>;
}

/** Hooks for metrics. */
export interface BudgetObserver {
  throttled?(budget: string, cls: BudgetClass): void;
  waited?(budget: string, cls: BudgetClass, seconds: number): void;
  /** Redis could not be asked: this process keeps to its share for a while (told once per outage). */
  degraded?(budget: string, share: number, err: Error): void;
}

export interface RequestBudgetsOptions {
  /** No grants in the last `guardMs` of a second, so a request reaches S3 in the second it was granted in (default 50). */
  guardMs?: number;
  /** A lease not released or renewed within this long is freed (a killed process): default 60 s, renewed every third of it. */
  leaseMs?: number;
  /** A Redis call slower than this falls back to the per-process share (default 1 s: a loaded event loop alone can delay a reply by a few hundred ms). */
  redisTimeoutMs?: number;
  /** After a failed Redis call, how long this process limits itself before asking Redis again (default 1 s). */
  retryRedisAfterMs?: number;
  /** Multiplicative decrease of a cut (default 0.5), additive increase per second as a share of the rate cut from (default 0.1). */
  decrease?: number;
  increaseShare?: number;
  observer?: BudgetObserver;
}

/** Share of a class's rate each priority may use: lower priorities leave the rest of every second to client reads. */
export const PRIORITY_SHARE: Record<BudgetPriority, number> = { client: 1, readahead: 0.8, background: 0.5 };
const RANK: Record<BudgetPriority, number> = { client: 0, readahead: 1, background: 2 };
const CLASSES: readonly BudgetClass[] = ['get', 'put', 'list'];
const MIN_RATE = 1;

function limitOf(s: BudgetSettings, cls: BudgetClass): number {
  return (cls === 'get' ? s.getPerSecond : cls === 'put' ? s.putPerSecond : s.listPerSecond) ?? 0;
}

interface Waiter {
  priority: BudgetPriority;
  seq: number;
  since: number;
  settled: boolean;
  resolve(lease: BudgetLease): void;
  reject(err: Error): void;
}

/** What one attempt to take a slot said. */
interface Take {
  granted: boolean;
  waitMs: number;
}

/**
 * The node's S3 request budgets, enforced across its processes through Redis: per budget and class a count of
 * grants per second of the Redis clock (at most the effective rate, of which readahead may use 80% and background
 * work 50%), and one set of leases for the requests in flight. Throttle answers cut the rate (shared: every process
 * slows down) and it grows back additively. In this process, waiters queue per budget and class, highest priority
 * first, and one attempt at a time asks Redis. While Redis cannot be reached each process keeps to its share — the
 * limits divided by the processes last seen — never unlimited and never waiting on Redis.
 */
export class RequestBudgets {
  private readonly budgets = new Map<string, Budget>();
  private readonly processId = randomUUID();
  readonly opts: Required<Omit<RequestBudgetsOptions, 'observer'>> & { observer?: BudgetObserver };
  private readonly renewer: NodeJS.Timeout;

  constructor(
    readonly redis: Redis,
    readonly namespace: string,
    readonly settings: () => Record<string, BudgetSettings>,
    opts: RequestBudgetsOptions = {},
  ) {
    assertNamespace('RequestBudgets', namespace);
    this.opts = {
      guardMs: opts.guardMs ?? 50,
      leaseMs: opts.leaseMs ?? 60_000,
      redisTimeoutMs: opts.redisTimeoutMs ?? 1000,
      retryRedisAfterMs: opts.retryRedisAfterMs ?? 1000,
      decrease: opts.decrease ?? 0.5,
      increaseShare: opts.increaseShare ?? 0.1,
      observer: opts.observer,
    };
    this.renewer = setInterval(() => {
      for (const b of this.budgets.values()) b.renew();
    }, this.opts.leaseMs / 3);
    this.renewer.unref();
  }

  /** Whether any budget is configured (else no request waits, and callers need not scope theirs). */
  active(): boolean {
    return Object.keys(this.settings()).length > 0;
  }

  /** Wait for a slot of budget `name` for a request of class `cls`; rejects with BudgetTimeoutError when `signal` aborts first. */
  acquire(name: string, cls: BudgetClass, priority: BudgetPriority = 'client', signal?: AbortSignal): Promise<BudgetLease> {
    const settings = this.settings()[name];
    if (!settings) return Promise.reject(new Error(`no S3 request budget named ${name}`));
    let b = this.budgets.get(name);
    if (!b) {
      b = new Budget(this, name, this.processId);
      this.budgets.set(name, b);
    }
    return b.acquire(cls, priority, signal);
  }

  /** Every configured budget's state. */
  async status(): Promise<BudgetStatus[]> {
    const out: BudgetStatus[] = [];
    for (const [name, s] of Object.entries(this.settings())) {
      const b = this.budgets.get(name);
      const keys = budgetKeys(this.namespace, name);
      const classes = {} as Record<BudgetClass, BudgetClassStatus>;
      let inflight = b?.localInflight ?? 0;
      let processes = b?.members ?? 1;
      const degraded = b?.degraded ?? false;
      for (const cls of CLASSES) {
        const limit = limitOf(s, cls);
        const local = b?.local(cls);
        const cs: BudgetClassStatus = {
          limit: limit || undefined,
          rate: local?.rate || limit || undefined,
          throttled: local?.throttled ?? 0,
          thisSecond: 0,
          waiting: b?.waiting(cls) ?? 0,
        };
        if (!degraded) {
          try {
            const { values } = await withTimeout(runScript(this.redis, 'RequestBudgets.status', 'budgetState', [keys.cls(cls), keys.inflight], [limit]), this.opts.redisTimeoutMs);
            const milli = replyInt('RequestBudgets.status', values[0]);
            cs.rate = milli < 0 ? undefined : milli / 1000;
            cs.throttled = replyInt('RequestBudgets.status', values[1]);
            cs.thisSecond = replyInt('RequestBudgets.status', values[2]);
            inflight = replyInt('RequestBudgets.status', values[3]);
          } catch {
            // Status is best effort: this process's view.
          }
        }
        classes[cls] = cs;
      }
      if (!degraded) processes = await withTimeout(this.redis.zcount(keys.members, Date.now() - 10_000, '+inf'), this.opts.redisTimeoutMs).catch(() => processes);
      out.push({ name, concurrency: s.concurrency, inflight, processes, degraded, classes });
    }
    return out;
  }

  /** Stop renewing leases and fail every waiter (shutdown). */
  close(): void {
    clearInterval(this.renewer);
    for (const b of this.budgets.values()) b.close();
    this.budgets.clear();
  }
}

/** Rate state of one class while this process keeps to its share. */
interface LocalClass {
  sec: number;
  n: number;
  /** AIMD cut rate (0: none), when, and its step per second. */
  cut: number;
  at: number;
  step: number;
  from: number;
  throttled: number;
  rate: number;
}

class Budget {
  private readonly queues = new Map<BudgetClass, ClassQueue>();
  /** Leases of this process held in Redis, renewed while held. */
  private readonly leases = new Set<string>();
  private readonly localState = new Map<BudgetClass, LocalClass>();
  private seq = 0;
  private degradedUntil = 0;
  private warned = false;
  localInflight = 0;
  /** Processes sharing the budget, as last seen in Redis (the divisor of this process's share when Redis is down). */
  members = 1;

  constructor(
    private readonly owner: RequestBudgets,
    readonly name: string,
    private readonly processId: string,
  ) {}

  get degraded(): boolean {
    return Date.now() < this.degradedUntil;
  }

  private settings(): BudgetSettings | undefined {
    return this.owner.settings()[this.name];
  }

  local(cls: BudgetClass): LocalClass {
    let s = this.localState.get(cls);
    if (!s) {
      s = { sec: 0, n: 0, cut: 0, at: 0, step: 0, from: 0, throttled: 0, rate: 0 };
      this.localState.set(cls, s);
    }
    return s;
  }

  waiting(cls: BudgetClass): number {
    return this.queues.get(cls)?.waiters.length ?? 0;
  }

  acquire(cls: BudgetClass, priority: BudgetPriority, signal?: AbortSignal): Promise<BudgetLease> {
    let q = this.queues.get(cls);
    if (!q) {
      q = new ClassQueue((p) => this.take(cls, p));
      this.queues.set(cls, q);
    }
    const queue = q;
    return new Promise<BudgetLease>((resolve, reject) => {
      if (signal?.aborted) return reject(new BudgetTimeoutError(this.name, cls));
      const w: Waiter = {
        priority,
        seq: this.seq++,
        since: performance.now(),
        settled: false,
        resolve: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          this.owner.opts.observer?.waited?.(this.name, cls, (performance.now() - w.since) / 1000);
          resolve(lease);
        },
        reject,
      };
      const onAbort = () => {
        if (w.settled) return;
        w.settled = true;
        queue.remove(w);
        reject(new BudgetTimeoutError(this.name, cls));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.add(w);
    });
  }

  /** One attempt at a slot: from Redis, or from this process's share while Redis is unreachable. */
  private async take(cls: BudgetClass, priority: BudgetPriority): Promise<Take & { lease?: BudgetLease }> {
    const s = this.settings();
    if (!s) return { granted: true, waitMs: 0, lease: this.lease(cls, undefined, Date.now(), false) };
    if (!this.degraded) {
      const id = `${this.processId}:${randomUUID()}`;
      const keys = budgetKeys(this.owner.namespace, this.name);
      const o = this.owner.opts;
      try {
        const { values } = await withTimeout(
          runScript(
            this.owner.redis,
            'RequestBudgets.acquire',
            'budgetAcquire',
            [keys.cls(cls), keys.inflight, keys.members],
            [limitOf(s, cls), PRIORITY_SHARE[priority], s.concurrency ?? 0, id, o.leaseMs, o.guardMs, this.processId],
          ),
          o.redisTimeoutMs,
        );
        this.warned = false;
        this.members = Math.max(1, replyInt('RequestBudgets.acquire', values[2]));
        const milli = replyInt('RequestBudgets.acquire', values[3]);
        this.local(cls).rate = milli < 0 ? 0 : milli / 1000;
        if (replyInt('RequestBudgets.acquire', values[0]) !== 1) return { granted: false, waitMs: replyInt('RequestBudgets.acquire', values[1]) };
        if (s.concurrency) this.leases.add(id);
        const grantedAt = replyInt('RequestBudgets.acquire', values[4]);
        this.countGrant(cls, grantedAt);
        return { granted: true, waitMs: 0, lease: this.lease(cls, s.concurrency ? id : undefined, grantedAt, milli >= 0) };
      } catch (err) {
        this.degradedUntil = Date.now() + o.retryRedisAfterMs;
        if (!this.warned) {
          this.warned = true;
          o.observer?.degraded?.(this.name, 1 / this.members, err as Error);
        }
      }
    }
    return this.takeLocal(s, cls, priority);
  }

  /**
   * Count a grant in this process's own second, whoever gave it: should Redis stop answering within that second, the
   * share this process then keeps to includes what Redis already granted it (else one second could see both).
   */
  private countGrant(cls: BudgetClass, atMs: number): void {
    const st = this.local(cls);
    const sec = Math.floor(atMs / 1000);
    if (st.sec !== sec) {
      st.sec = sec;
      st.n = 0;
    }
    st.n++;
  }

  /** The per-process share: the limits divided by the processes last seen, counted in this process's seconds. */
  private takeLocal(s: BudgetSettings, cls: BudgetClass, priority: BudgetPriority): Take & { lease?: BudgetLease } {
    if (s.concurrency && this.localInflight >= Math.max(1, Math.floor(s.concurrency / this.members))) return { granted: false, waitMs: 10 };
    const now = Date.now();
    const st = this.local(cls);
    const rate = this.localRate(s, cls, now);
    const sec = Math.floor(now / 1000);
    if (st.sec !== sec) {
      st.sec = sec;
      st.n = 0;
    }
    if (rate > 0 && now - sec * 1000 >= 1000 - this.owner.opts.guardMs) return { granted: false, waitMs: 1000 - (now - sec * 1000) };
    if (rate > 0 && st.n >= Math.max(1, Math.floor((rate / this.members) * PRIORITY_SHARE[priority]))) return { granted: false, waitMs: 1000 - (now - sec * 1000) };
    this.countGrant(cls, now);
    return { granted: true, waitMs: 0, lease: this.lease(cls, undefined, now, rate > 0) };
  }

  /** The local AIMD rate (as budget-rate.lua). */
  private localRate(s: BudgetSettings, cls: BudgetClass, now: number): number {
    const st = this.local(cls);
    const limit = limitOf(s, cls);
    if (!st.cut) return limit;
    const grown = st.cut + (st.step * (now - st.at)) / 1000;
    if (grown >= (limit || st.from)) {
      st.cut = 0;
      return limit;
    }
    return grown;
  }

  /** `atMs`: when it was granted (Unix ms of the clock that counted it); `limited`: whether the class has a rate limit. */
  private lease(cls: BudgetClass, id: string | undefined, atMs: number, limited: boolean): BudgetLease {
    this.localInflight++;
    let released = false;
    return {
      second: Math.floor(atMs / 1000),
      sendBy: limited ? Date.now() + (1000 - (atMs % 1000)) - this.owner.opts.guardMs : undefined,
      answered: (status) => {
        const s = this.settings();
        if (status === undefined || !s || !s.throttleStatuses.includes(status)) return false;
        this.throttled(s, cls);
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.localInflight--;
        if (id !== undefined) {
          this.leases.delete(id);
          this.owner.redis.zrem(budgetKeys(this.owner.namespace, this.name).inflight, id).catch(() => undefined);
        }
        this.queues.forEach((q) => q.wake());
      },
    };
  }

  /** A throttle answer: cut the shared rate (and this process's own, which rules while Redis is down). */
  private throttled(s: BudgetSettings, cls: BudgetClass): void {
    const o = this.owner.opts;
    o.observer?.throttled?.(this.name, cls);
    const now = Date.now();
    const st = this.local(cls);
    st.throttled++;
    if (now - st.at >= 1000) {
      const from = this.localRate(s, cls, now) || Math.max(st.n, MIN_RATE);
      st.cut = Math.max(MIN_RATE, from * o.decrease);
      st.step = Math.max(MIN_RATE, from * o.increaseShare);
      st.from = from;
      st.at = now;
    }
    if (this.degraded) return;
    runScript(
      this.owner.redis,
      'RequestBudgets.throttled',
      'budgetThrottle',
      [budgetKeys(this.owner.namespace, this.name).cls(cls)],
      [limitOf(s, cls), o.decrease, MIN_RATE, 1000, o.increaseShare],
    ).catch(() => undefined);
  }

  /** Push the expiry of this process's leases forward (they are freed only if the process dies). */
  renew(): void {
    if (this.leases.size === 0) return;
    const expiry = Date.now() + this.owner.opts.leaseMs;
    const args: (string | number)[] = [];
    for (const id of this.leases) args.push(expiry, id);
    this.owner.redis.zadd(budgetKeys(this.owner.namespace, this.name).inflight, 'XX', ...args).catch(() => undefined);
  }

  close(): void {
    for (const q of this.queues.values()) q.close(new Error(`S3 request budget ${this.name} closed`));
  }
}

/** Waiters of one budget class in this process, highest priority first; one attempt at a slot at a time. */
class ClassQueue {
  readonly waiters: Waiter[] = [];
  private running = false;
  private wakeUp?: () => void;
  private closed = false;

  constructor(private readonly take: (priority: BudgetPriority) => Promise<Take & { lease?: BudgetLease }>) {}

  add(w: Waiter): void {
    let at = this.waiters.length;
    while (at > 0 && RANK[this.waiters[at - 1]!.priority] > RANK[w.priority]) at--;
    this.waiters.splice(at, 0, w);
    // A new head of the queue may be let in at once (a client read while background work waits for its share).
    if (at === 0) this.wake();
    void this.pump();
  }

  remove(w: Waiter): void {
    const at = this.waiters.indexOf(w);
    if (at >= 0) this.waiters.splice(at, 1);
  }

  wake(): void {
    this.wakeUp?.();
  }

  close(err: Error): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      if (w.settled) continue;
      w.settled = true;
      w.reject(err);
    }
    this.wake();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.closed && this.waiters.length > 0) {
        const head = this.waiters[0]!;
        const r = await this.take(head.priority);
        if (r.granted) {
          if (head.settled) {
            // Its deadline passed while Redis was asked: the slot goes unused.
            r.lease?.release();
            continue;
          }
          this.remove(head);
          head.settled = true;
          head.resolve(r.lease!);
          continue;
        }
        // Slightly spread, so the processes do not all ask at the same instant.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, r.waitMs + Math.random() * 5);
          function done() {
            clearTimeout(timer);
            resolve();
          }
          this.wakeUp = done;
        });
        this.wakeUp = undefined;
      }
    } finally {
      this.running = false;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e as Error)),
    );
  });
}
