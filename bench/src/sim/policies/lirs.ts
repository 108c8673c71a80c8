import { LinkedList, type ListNode } from './linked-list.js';
import { OrderedMap, type Policy } from './policy.js';

/** Share of the capacity for resident HIR chunks (the paper's 1%). */
export const LIRS_HIR_SHARE = 0.01;
/** Bytes of non-resident HIR keys kept in the stack, as a multiple of the capacity. */
export const LIRS_GHOST_SHARE = 2;

const LIR = 0;
const HIR = 1;
const GHOST = 2;

interface Entry {
  key: number;
  size: number;
  state: typeof LIR | typeof HIR | typeof GHOST;
  /** Node in the stack S, if there. */
  s: ListNode<Entry> | undefined;
  /** Node in Q (resident HIR only). */
  q: ListNode<Entry> | undefined;
}

/**
 * LIRS (Jiang & Zhang, SIGMETRICS 2002), in bytes. Chunks with a short reuse distance (LIR, 1 − hirShare of the
 * capacity) are kept; the others (HIR) live in a small FIFO Q and are evicted first. The stack S orders chunks by
 * recency down to its oldest LIR chunk (stack pruning keeps an LIR chunk at the bottom); a HIR chunk hit, or a
 * miss whose key is still in S (a non-resident HIR "ghost"), has a reuse distance shorter than the oldest LIR
 * chunk's recency, so it becomes LIR and the bottom LIR chunks are demoted to Q. Ghosts are bounded to
 * `ghostShare` × the capacity in bytes, oldest out first. Loops larger than the cache keep a fixed part resident.
 */
export class Lirs implements Policy {
  readonly name: string;
  private readonly entries = new Map<number, Entry>();
  private readonly stack = new LinkedList<Entry>();
  private readonly queue = new LinkedList<Entry>();
  /** Ghost keys in the order they became ghosts (for the bound). */
  private readonly ghosts = new OrderedMap<Entry>();
  private lirUsed = 0;
  private hirUsed = 0;
  private ghostUsed = 0;
  private readonly lirTarget: number;
  private readonly ghostTarget: number;

  constructor(
    private readonly capacity: number,
    hirShare = LIRS_HIR_SHARE,
    ghostShare = LIRS_GHOST_SHARE,
  ) {
    this.lirTarget = capacity * (1 - hirShare);
    this.ghostTarget = capacity * ghostShare;
    this.name = hirShare === LIRS_HIR_SHARE && ghostShare === LIRS_GHOST_SHARE ? 'LIRS' : `LIRS HIR=${hirShare * 100}%`;
  }

  access(key: number, size: number): boolean {
    const e = this.entries.get(key);
    if (e && e.state === LIR) {
      this.toTop(e);
      this.prune();
      return true;
    }
    if (e && e.state === HIR) {
      if (e.s) this.promote(e);
      else {
        this.toTop(e);
        this.queue.moveToHead(e.q as ListNode<Entry>);
      }
      return true;
    }
    if (size > this.capacity) return false;
    while (this.lirUsed + this.hirUsed + size > this.capacity) this.evictOne();
    // Making room may have pruned this key's ghost out of S.
    const ghost = this.entries.get(key);
    if (ghost) {
      this.ghosts.map.delete(key);
      this.ghostUsed -= ghost.size;
      ghost.size = size;
      ghost.state = HIR;
      this.hirUsed += size;
      this.promote(ghost);
    } else {
      const n: Entry = { key, size, state: LIR, s: undefined, q: undefined };
      this.entries.set(key, n);
      n.s = this.stack.unshift(n);
      if (this.lirUsed + size <= this.lirTarget) this.lirUsed += size;
      else {
        n.state = HIR;
        n.q = this.queue.unshift(n);
        this.hirUsed += size;
      }
    }
    this.trimGhosts();
    return false;
  }

  usedBytes(): number {
    return this.lirUsed + this.hirUsed;
  }

  private toTop(e: Entry): void {
    if (e.s) this.stack.moveToHead(e.s);
    else e.s = this.stack.unshift(e);
  }

  /** A resident HIR chunk (in S, or just re-fetched) becomes LIR; the bottom LIR chunks make way. */
  private promote(e: Entry): void {
    if (e.q) this.queue.remove(e.q);
    e.q = undefined;
    this.hirUsed -= e.size;
    e.state = LIR;
    this.lirUsed += e.size;
    this.toTop(e);
    while (this.lirUsed > this.lirTarget && this.stack.tail) this.demoteBottom();
  }

  /** The LIR chunk at the bottom of S becomes a resident HIR chunk at Q's recent end. */
  private demoteBottom(): void {
    const bottom = (this.stack.tail as ListNode<Entry>).value;
    this.stack.remove(bottom.s as ListNode<Entry>);
    bottom.s = undefined;
    bottom.state = HIR;
    this.lirUsed -= bottom.size;
    this.hirUsed += bottom.size;
    bottom.q = this.queue.unshift(bottom);
    this.prune();
  }

  /** Evict Q's oldest chunk (a ghost if still in S); with Q empty, demote an LIR chunk into it first. */
  private evictOne(): void {
    if (!this.queue.tail) this.demoteBottom();
    const victim = (this.queue.tail as ListNode<Entry>).value;
    this.queue.remove(victim.q as ListNode<Entry>);
    victim.q = undefined;
    this.hirUsed -= victim.size;
    if (victim.s) {
      victim.state = GHOST;
      this.ghosts.map.set(victim.key, victim);
      this.ghostUsed += victim.size;
    } else this.entries.delete(victim.key);
  }

  /** Remove HIR chunks and ghosts from the bottom of S until an LIR chunk is there. */
  private prune(): void {
    for (let t = this.stack.tail; t && t.value.state !== LIR; t = this.stack.tail) {
      const e = t.value;
      this.stack.remove(t);
      e.s = undefined;
      if (e.state === GHOST) this.forget(e);
    }
  }

  private trimGhosts(): void {
    while (this.ghostUsed > this.ghostTarget) {
      const [, e] = this.ghosts.shift() as [number, Entry];
      this.stack.remove(e.s as ListNode<Entry>);
      e.s = undefined;
      this.forget(e);
    }
  }

  private forget(e: Entry): void {
    this.ghosts.map.delete(e.key);
    this.ghostUsed -= e.size;
    this.entries.delete(e.key);
  }
}
