import type { Config, ResolvedDatastore } from '@larder/config';
import { RequestBudgets, createRedis, redisOptionsFrom } from '@larder/redis';
import { useRequestBudgets, withS3Priority } from '@larder/s3';

/**
 * Run a command's S3 work (an import, a push) within the datastore's request budget, shared with the node's
 * processes through Redis, at background priority: it leaves half of every second to the node's client reads.
 */
export async function inBudget<T>(config: Config, ds: ResolvedDatastore, fn: () => Promise<T>): Promise<T> {
  if (ds.budget === undefined) return fn();
  const redis = createRedis(redisOptionsFrom(config));
  // Unreachable: the budget keeps to this process's share of the limits, and says so in its state.
  redis.on('error', () => undefined);
  const budgets = new RequestBudgets(redis, config.namespace, () => config.budgets);
  const uninstall = useRequestBudgets(budgets);
  try {
    return await withS3Priority('background', fn);
  } finally {
    uninstall();
    budgets.close();
    redis.disconnect();
  }
}
