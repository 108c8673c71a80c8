import type { Config } from '@larder/config';
import type { S3OperationCount } from '@larder/redis';

type Prices = Config['prices'];

const GIB = 2 ** 30;

/** The price of 1,000 requests of an operation: GET class (GET, HEAD), PUT class (PUT, POST, LIST), DELETE. */
export function pricePer1000(prices: Prices, operation: string): number {
  if (operation === 'get' || operation === 'head') return prices.getPer1000;
  if (operation === 'delete') return prices.deletePer1000;
  return prices.putPer1000;
}

/** What `/v1/status` shows under `s3Cost`: S3 requests and bytes per datastore and operation, their estimated cost, and what the cache saved. */
export interface S3CostStatus {
  currency: string;
  prices: Omit<Prices, 'currency'>;
  datastores: Record<string, { operations: Record<string, S3OperationCount>; requests: number; cost: number }>;
  /** Requests and bytes downloaded (GET) over every datastore, and their cost: requests, egress, total. */
  requests: number;
  bytesDownloaded: number;
  cost: { requests: number; egress: number; total: number };
  /**
   * What the cache spared S3: hits (a GET each) and the bytes they served (egress), and the S3 endpoint's chunk PUTs not
   * sent because the chunk was known to be in S3 (this gateway process's count).
   */
  saved: { hits: number; hitBytes: number; putsNotSent: number; gets: number; egress: number; puts: number; total: number };
}

/** Without float noise (0.0158, not 0.015800000000000002), yet a single request's price still shows. */
function money(n: number): number {
  return Number(n.toPrecision(10));
}

/** The cost report from the node's per-datastore counts, its hits and the S3 endpoint's PUTs not sent. */
export function s3CostStatus(
  prices: Prices,
  counts: Record<string, Record<string, S3OperationCount>>,
  saved: { hits: number; hitBytes: number; putsNotSent: number },
): S3CostStatus {
  const { currency, ...perUnit } = prices;
  const datastores: S3CostStatus['datastores'] = {};
  let requests = 0;
  let bytesDownloaded = 0;
  let requestCost = 0;
  for (const [store, operations] of Object.entries(counts)) {
    let storeRequests = 0;
    let storeCost = 0;
    for (const [operation, c] of Object.entries(operations)) {
      const ofRequests = (c.requests / 1000) * pricePer1000(prices, operation);
      storeRequests += c.requests;
      requestCost += ofRequests;
      storeCost += ofRequests;
      if (operation === 'get') {
        bytesDownloaded += c.bytes;
        storeCost += (c.bytes / GIB) * prices.egressPerGiB;
      }
    }
    requests += storeRequests;
    datastores[store] = { operations, requests: storeRequests, cost: money(storeCost) };
  }
  const egress = (bytesDownloaded / GIB) * prices.egressPerGiB;
  const gets = (saved.hits / 1000) * prices.getPer1000;
  const savedEgress = (saved.hitBytes / GIB) * prices.egressPerGiB;
  const puts = (saved.putsNotSent / 1000) * prices.putPer1000;
  return {
    currency,
    prices: perUnit,
    datastores,
    requests,
    bytesDownloaded,
    cost: { requests: money(requestCost), egress: money(egress), total: money(requestCost + egress) },
    saved: { ...saved, gets: money(gets), egress: money(savedEgress), puts: money(puts), total: money(gets + savedEgress + puts) },
  };
}
