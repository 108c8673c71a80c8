import type { RunSizes } from './types.js';
import { GiB, MiB } from './units.js';

/** Sizes of a full run: a 1 GiB image, budgets that fit the whole set in about 20 minutes on 2 cores. */
export const FULL_SIZES: RunSizes = {
  imageBytes: GiB,
  qd1BudgetMs: 15_000,
  parallelBudgetMs: 5_000,
  concurrencies: [4, 8, 16, 32, 64, 128],
  curlReadBytes: 256 * MiB,
  scalingReadBytes: 256 * MiB,
  fioRuntimeSec: 10,
  loadDurationMs: 10_000,
  redisRequests: 1_000_000,
  warmRepeats: 3,
};

/** Sizes of a quick run (CI): a 32 MiB image, second-long budgets. */
export const QUICK_SIZES: RunSizes = {
  imageBytes: 32 * MiB,
  qd1BudgetMs: 1_500,
  parallelBudgetMs: 1_000,
  concurrencies: [4, 16, 64],
  curlReadBytes: 8 * MiB,
  scalingReadBytes: 16 * MiB,
  fioRuntimeSec: 2,
  loadDurationMs: 2_000,
  redisRequests: 100_000,
  warmRepeats: 1,
};
