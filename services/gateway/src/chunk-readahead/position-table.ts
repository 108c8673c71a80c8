/** Bytes of one slot of a {@link PositionTable}: a 4-byte key, a 4-byte index slot and a 4-byte position. */
export const SLOT_BYTES = 12;

/** Most entries kept for one key: a chunk in many indexes (every snapshot of one disk) is found through a few of them. */
export const MAX_PER_KEY = 8;

const MAX_LOAD = 0.7;

/**
 * A compact multimap from a digest's first 4 bytes to (index slot, chunk position), in three typed arrays with
 * linear probing: 12 bytes per slot at a load between 0.35 and 0.7, so 17–34 bytes per entry. Keys are only
 * prefixes: callers check the whole digest against the index. No removal: the owner builds a new table instead.
 */
export class PositionTable {
  private keys: Uint32Array;
  private slots: Uint32Array; // index slot + 1; 0 = empty
  private positions: Uint32Array;
  private count = 0;

  constructor(capacity = 1024) {
    const cap = 2 ** Math.ceil(Math.log2(Math.max(16, capacity)));
    this.keys = new Uint32Array(cap);
    this.slots = new Uint32Array(cap);
    this.positions = new Uint32Array(cap);
  }

  /** Entries held. */
  get size(): number {
    return this.count;
  }

  /** Bytes the table's arrays take. */
  get bytes(): number {
    return this.keys.length * SLOT_BYTES;
  }

  /** Bytes the table would take after `more` further inserts. */
  bytesAfter(more: number): number {
    let cap = this.keys.length;
    while (this.count + more > cap * MAX_LOAD) cap *= 2;
    return cap * SLOT_BYTES;
  }

  /** Add (slot, position) under `key`, unless `key` has MAX_PER_KEY entries already; false then. */
  insert(key: number, slot: number, position: number): boolean {
    if (this.count + 1 > this.keys.length * MAX_LOAD) this.grow();
    const mask = this.keys.length - 1;
    let same = 0;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      if (this.slots[i] === 0) {
        this.keys[i] = key;
        this.slots[i] = slot + 1;
        this.positions[i] = position;
        this.count++;
        return true;
      }
      if (this.keys[i] === key && ++same >= MAX_PER_KEY) return false;
    }
  }

  /** Call `fn(slot, position)` for every entry under `key`. */
  forEach(key: number, fn: (slot: number, position: number) => void): void {
    const mask = this.keys.length - 1;
    for (let i = key & mask; this.slots[i] !== 0; i = (i + 1) & mask) {
      if (this.keys[i] === key) fn((this.slots[i] as number) - 1, this.positions[i] as number);
    }
  }

  private grow(): void {
    const { keys, slots, positions } = this;
    const cap = keys.length * 2;
    this.keys = new Uint32Array(cap);
    this.slots = new Uint32Array(cap);
    this.positions = new Uint32Array(cap);
    this.count = 0;
    const mask = cap - 1;
    for (let j = 0; j < keys.length; j++) {
      const s = slots[j] as number;
      if (s === 0) continue;
      const key = keys[j] as number;
      let i = key & mask;
      while (this.slots[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = key;
      this.slots[i] = s;
      this.positions[i] = positions[j] as number;
      this.count++;
    }
  }
}
