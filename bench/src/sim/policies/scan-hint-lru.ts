import { LinkedList, type ListNode } from './linked-list.js';
import type { Policy } from './policy.js';

/**
 * LRU with a scan hint (ours): the index knows which reads come from a whole-image scan (a restore or verify
 * walking an index) rather than a client. A chunk a scan fetches enters at the cold end, so it is the next to go
 * unless a client (or, with `scanHitsRefresh`, another scan) uses it first; a scan's hit does not refresh recency
 * by default. Without hints (the public traces) this is exactly LRU.
 */
export class ScanHintLru implements Policy {
  readonly name: string;
  private readonly entries = new Map<number, ListNode<[number, number]>>();
  /** Head = most recently used, tail = next to evict. */
  private readonly order = new LinkedList<[number, number]>();
  private used = 0;

  constructor(
    private readonly capacity: number,
    private readonly scanHitsRefresh = false,
  ) {
    this.name = scanHitsRefresh ? 'LRU + scan hint, scan hits refresh' : 'LRU + scan hint';
  }

  access(key: number, size: number, scan = false): boolean {
    const held = this.entries.get(key);
    if (held) {
      if (!scan || this.scanHitsRefresh) this.order.moveToHead(held);
      return true;
    }
    if (size > this.capacity) return false;
    while (this.used + size > this.capacity) {
      const victim = this.order.tail as ListNode<[number, number]>;
      this.order.remove(victim);
      this.entries.delete(victim.value[0]);
      this.used -= victim.value[1];
    }
    this.entries.set(key, scan ? this.order.push([key, size]) : this.order.unshift([key, size]));
    this.used += size;
    return false;
  }

  usedBytes(): number {
    return this.used;
  }
}
