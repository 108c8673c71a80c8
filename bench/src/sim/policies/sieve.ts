import { LinkedList, type ListNode } from './linked-list.js';
import type { Policy } from './policy.js';

interface Entry {
  key: number;
  size: number;
  visited: boolean;
}

/**
 * SIEVE (Zhang et al., NSDI 2024), in bytes: one FIFO, a visited bit per chunk set by a hit, and a hand that
 * walks from the oldest chunk towards the newest, clearing visited bits and evicting the first chunk not visited;
 * the hand stays where it stopped (wrapping to the oldest). Survivors keep their place, so new chunks are the
 * first evicted once the hand has passed the old ones: quick demotion of one-hit chunks.
 */
export class Sieve implements Policy {
  readonly name = 'SIEVE';
  private readonly entries = new Map<number, ListNode<Entry>>();
  private readonly queue = new LinkedList<Entry>();
  private hand: ListNode<Entry> | undefined;
  private used = 0;

  constructor(private readonly capacity: number) {}

  access(key: number, size: number): boolean {
    const held = this.entries.get(key);
    if (held) {
      held.value.visited = true;
      return true;
    }
    if (size > this.capacity) return false;
    while (this.used + size > this.capacity) this.evictOne();
    this.entries.set(key, this.queue.unshift({ key, size, visited: false }));
    this.used += size;
    return false;
  }

  usedBytes(): number {
    return this.used;
  }

  private evictOne(): void {
    let node = this.hand ?? this.queue.tail;
    while (node && node.value.visited) {
      node.value.visited = false;
      node = node.prev ?? this.queue.tail;
    }
    const victim = node as ListNode<Entry>;
    this.hand = victim.prev;
    this.queue.remove(victim);
    this.entries.delete(victim.value.key);
    this.used -= victim.value.size;
  }
}
