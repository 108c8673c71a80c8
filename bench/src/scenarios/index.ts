import type { Scenario } from '../types.js';
import { chunkClient } from './chunk-client.js';
import { chunkHits } from './chunk-hits.js';
import { coldRestore } from './cold-restore.js';
import { configLookups } from './config-lookups.js';
import { fetcherScaling } from './fetcher-scaling.js';
import { gc } from './gc.js';
import { indexThroughput } from './index-throughput.js';
import { memory } from './memory.js';
import { mixed } from './mixed.js';
import { seedBackup } from './seed-backup.js';
import { singleFlight } from './single-flight.js';
import { warmRestore } from './warm-restore.js';

/** Every scenario, in the order; `pnpm bench NAME...` selects by `name`. */
export const SCENARIOS: readonly Scenario[] = [
  coldRestore,
  warmRestore,
  mixed,
  chunkHits,
  singleFlight,
  fetcherScaling,
  indexThroughput,
  memory,
  configLookups,
  chunkClient,
  seedBackup,
  gc,
];

/** The scenario called `name`, or undefined. */
export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
