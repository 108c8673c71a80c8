import { Arc } from './arc.js';
import { Dip } from './dip.js';
import { Lirs } from './lirs.js';
import { Lru } from './lru.js';
import type { PolicyFactory } from './policy.js';
import { S3Fifo } from './s3fifo.js';
import { S3FifoAdaptive } from './s3fifo-adaptive.js';
import { ScanHintLru } from './scan-hint-lru.js';
import { Sieve } from './sieve.js';
import { WTinyLfu } from './tinylfu.js';
import { TwoQ } from './two-q.js';

export type { Policy, PolicyFactory } from './policy.js';
export { Lru } from './lru.js';
export { Arc } from './arc.js';
export { Dip } from './dip.js';
export { Lirs } from './lirs.js';
export { ScanHintLru } from './scan-hint-lru.js';
export { Sieve } from './sieve.js';
export { S3Fifo } from './s3fifo.js';
export { S3FifoAdaptive } from './s3fifo-adaptive.js';
export { FrequencySketch, WTinyLfu } from './tinylfu.js';
export { TwoQ } from './two-q.js';

/** The policies the simulator compares, LRU (today's index) first. */
export const POLICIES: readonly { name: string; make: PolicyFactory }[] = [
  { name: 'LRU', make: (c) => new Lru(c) },
  { name: 'S3-FIFO', make: (c) => new S3Fifo(c) },
  { name: '2Q', make: (c) => new TwoQ(c) },
  { name: 'ARC', make: (c) => new Arc(c) },
  { name: 'W-TinyLFU', make: (c) => new WTinyLfu(c) },
  { name: 'S3-FIFO adaptive', make: (c) => new S3FifoAdaptive(c) },
  { name: 'LIRS', make: (c) => new Lirs(c) },
  { name: 'SIEVE', make: (c) => new Sieve(c) },
  { name: 'LRU + scan hint', make: (c) => new ScanHintLru(c) },
  { name: 'DIP', make: (c) => new Dip(c) },
];

/**
 * Parameter variants, to see whether the comparison is an artefact of the papers' defaults: S3-FIFO with a larger
 * small queue or a higher bar to enter M, 2Q with a larger ghost or A1in, LIRS with more room for HIR chunks, DIP
 * always inserting bimodally or duelling on every key.
 */
export const POLICY_VARIANTS: readonly { name: string; make: PolicyFactory }[] = [
  { name: 'S3-FIFO S=20%', make: (c) => new S3Fifo(c, 0.2) },
  { name: 'S3-FIFO S=30%', make: (c) => new S3Fifo(c, 0.3) },
  { name: 'S3-FIFO 2 hits', make: (c) => new S3Fifo(c, 0.1, 2) },
  { name: '2Q Kout=100%', make: (c) => new TwoQ(c, 0.25, 1) },
  { name: '2Q Kin=50%', make: (c) => new TwoQ(c, 0.5, 1) },
  { name: 'W-TinyLFU W=20%', make: (c) => new WTinyLfu(c, 0.2) },
  { name: 'W-TinyLFU climbing', make: (c) => new WTinyLfu(c, 0.01, true) },
  { name: 'S3-FIFO adaptive, GM to S', make: (c) => new S3FifoAdaptive(c, 0.01, 0.9, false) },
  { name: 'LIRS HIR=5%', make: (c) => new Lirs(c, 0.05) },
  { name: 'LIRS HIR=10%', make: (c) => new Lirs(c, 0.1) },
  { name: 'LRU + scan hint, scan hits refresh', make: (c) => new ScanHintLru(c, true) },
  { name: 'BIP (DIP without duelling)', make: (c) => new Dip(c, 16, 32, 256, 'bip') },
  { name: 'DIP, unsampled shadows', make: (c) => new Dip(c, 1) },
];
