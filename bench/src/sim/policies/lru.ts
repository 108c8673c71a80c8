import { OrderedMap, type Policy } from './policy.js';

/**
 * Today's index (packages/redis/src/scripts): a hit raises the chunk's recency (touch-chunks.lua, ZADD XX GT); a
 * miss is fetched and admitted with recency = now (admit-fetched.lua), after the evictor made room for it by
 * removing the least recently used chunks until used + size <= capacity (evict-to-target.lua, capacity in bytes).
 * Recency is a logical clock here, so there are no score ties (the index breaks ties by key).
 */
export class Lru implements Policy {
  readonly name = 'LRU';
  /** Key -> size, least recently used first. */
  private readonly entries = new OrderedMap<number>();
  private used = 0;

  constructor(private readonly capacity: number) {}

  access(key: number, size: number): boolean {
    const held = this.entries.map.get(key);
    if (held !== undefined) {
      this.entries.map.delete(key);
      this.entries.map.set(key, held);
      return true;
    }
    if (size > this.capacity) return false;
    while (this.used + size > this.capacity) {
      const [, victimSize] = this.entries.shift() as [number, number];
      this.used -= victimSize;
    }
    this.entries.map.set(key, size);
    this.used += size;
    return false;
  }

  usedBytes(): number {
    return this.used;
  }
}
