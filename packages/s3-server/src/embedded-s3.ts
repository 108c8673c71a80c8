import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { EmbeddedS3, EmbeddedS3Options, S3Fault, S3ServerStats } from './types.js';

const require = createRequire(import.meta.url);
// s3rver is CommonJS and ships no types.
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => {
  configureBuckets(): Promise<void>;
  callback(): http.RequestListener;
  store: { existsObject(bucket: string, key: string): Promise<boolean>; deleteObject(bucket: string, key: string): Promise<void> };
};

/** Whether an error is a directory vanishing or filling under us (ENOENT, ENOTEMPTY). */
const isDirRace = (err: unknown) => ['ENOENT', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException)?.code ?? '');

function emptyStats(): S3ServerStats {
  return {
    requests: 0,
    objectGets: 0,
    objectGetBytes: 0,
    puts: 0,
    heads: 0,
    byMethod: new Map(),
    bytesReceived: 0,
    preconditionFailed: 0,
    getsByKey: new Map(),
    putsByKey: new Map(),
    headsByKey: new Map(),
    getsPerSecond: new Map(),
    getsPerSignedSecond: new Map(),
    lists: 0,
    deleteObjects: 0,
    throttled: 0,
  };
}

/** Object path (`bucket/key`) of a path-style request, or undefined for service and bucket requests. */
function objectPath(url: string): string | undefined {
  const path = url.split('?')[0] ?? '';
  const rest = path.replace(/^\/+/, '');
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  return decodeURIComponent(rest);
}

/** The Unix second of a request's SigV4 time (`X-Amz-Date: 20260101T120000Z`, header or query), or undefined. */
function signedSecond(req: http.IncomingMessage): number | undefined {
  const raw = req.headers['x-amz-date'] ?? /[?&]X-Amz-Date=(\d{8}T\d{6}Z)/.exec(req.url ?? '')?.[1];
  const m = typeof raw === 'string' ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(raw) : null;
  if (!m) return undefined;
  const n = m.slice(1).map(Number);
  return Date.UTC(n[0] ?? 0, (n[1] ?? 1) - 1, n[2], n[3], n[4], n[5]) / 1000;
}

/** Start s3rver behind a thin HTTP layer that counts requests and can inject faults. */
export async function startEmbeddedS3(opts: EmbeddedS3Options): Promise<EmbeddedS3> {
  await mkdir(opts.directory, { recursive: true });
  const s3rver = new S3rver({
    directory: opts.directory,
    silent: true,
    configureBuckets: (opts.buckets ?? []).map((name) => ({ name })),
  });
  await s3rver.configureBuckets();
  // s3rver's DeleteObjects deletes its keys at once, and each delete removes the folders it leaves empty: two deletes in
  // one folder race to remove it and the loser answers InternalError. The objects are gone either way.
  const deleteObject = s3rver.store.deleteObject.bind(s3rver.store);
  s3rver.store.deleteObject = (bucket, key) => deleteObject(bucket, key).catch((err: unknown) => (isDirRace(err) ? undefined : Promise.reject(err as Error)));
  const handler = s3rver.callback();
  let stats = emptyStats();
  let fault: S3Fault | undefined;
  /** Object GETs and HEADs per second (the last few), for the `rateLimit` fault. */
  const window = new Map<number, number>();
  const sockets = new Set<Socket>();
  /** Requests held by a `hang` fault, served when it is cleared. */
  const held = new Set<() => void>();

  const server = http.createServer((req, res) => {
    stats.requests++;
    const method = req.method ?? 'GET';
    stats.byMethod.set(method, (stats.byMethod.get(method) ?? 0) + 1);
    stats.bytesReceived += Number(req.headers['content-length'] ?? 0) || 0;
    const key = objectPath(req.url ?? '/');
    const second = Math.floor(Date.now() / 1000);
    const signed = signedSecond(req) ?? second;
    let throttle = false;
    if ((req.method === 'GET' || req.method === 'HEAD') && key && fault?.rateLimit) {
      const counted = fault.rateLimit.by === 'signed' ? signed : second;
      // Per second, the window being counted; requests signed in an earlier second are counted apart.
      const n = (window.get(counted) ?? 0) + 1;
      window.set(counted, n);
      if (window.size > 8) window.delete(window.keys().next().value!);
      throttle = n > fault.rateLimit.getsPerSecond;
    }
    if (req.method === 'GET' && key) {
      stats.getsPerSecond.set(second, (stats.getsPerSecond.get(second) ?? 0) + 1);
      stats.getsPerSignedSecond.set(signed, (stats.getsPerSignedSecond.get(signed) ?? 0) + 1);
      stats.objectGets++;
      stats.getsByKey.set(key, (stats.getsByKey.get(key) ?? 0) + 1);
      const corrupt = fault?.corrupt;
      let flip = corrupt !== undefined && corrupt.times > 0 && (corrupt.key === undefined || key.includes(corrupt.key));
      const write = res.write.bind(res);
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        if (chunk && typeof (chunk as Buffer).length === 'number') stats.objectGetBytes += (chunk as Buffer).length;
        if (flip && corrupt && Buffer.isBuffer(chunk) && chunk.length > 0 && res.statusCode === 200) {
          // A copy: s3rver's buffers are not ours to change.
          const bad = Buffer.from(chunk);
          const at = bad.length >> 1;
          bad[at] = (bad[at] as number) ^ 0x01;
          chunk = bad;
          flip = false;
          corrupt.times--;
        }
        return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof res.write;
    }
    if (req.method === 'PUT' && key) {
      stats.puts++;
      stats.putsByKey.set(key, (stats.putsByKey.get(key) ?? 0) + 1);
    }
    const query = (req.url ?? '').split('?')[1] ?? '';
    // A bucket GET is a LIST page (or a bucket sub-resource such as ?location); POST ?delete is a DeleteObjects batch.
    if (req.method === 'GET' && !key && /^\/+[^/]+\/?$/.test((req.url ?? '').split('?')[0] ?? '') && !/(^|&)(location|versioning|acl|policy|cors|lifecycle)(=|&|$)/.test(query))
      stats.lists++;
    if (req.method === 'POST' && /(^|&)delete(=|&|$)/.test(query)) stats.deleteObjects++;
    if (req.method === 'HEAD' && key) {
      stats.heads++;
      stats.headsByKey.set(key, (stats.headsByKey.get(key) ?? 0) + 1);
    }
    const serve = () => {
      const f = fault;
      if (throttle && f?.rateLimit) {
        stats.throttled++;
        const code = f.rateLimit.code ?? 'SlowDown';
        res.writeHead(f.rateLimit.status ?? 503, { 'content-type': 'application/xml' });
        return res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>Please reduce your request rate.</Message></Error>`);
      }
      if (f?.hang) {
        held.add(serve);
        res.on('close', () => held.delete(serve));
        return;
      }
      if (f?.drop) return req.socket.destroy();
      if (f?.status) {
        res.writeHead(f.status, { 'content-type': 'application/xml' });
        return res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InjectedFault</Code><Message>injected fault ${f.status}</Message></Error>`);
      }
      if (req.method === 'PUT' && key && req.headers['if-none-match'] === '*' && !req.headers['x-amz-copy-source']) return void conditionalPut(req, res, key);
      handler(req, res);
    };
    /**
     * s3rver ignores `If-None-Match` on PUT and overwrites; S3 answers 412 when the object exists. The body is
     * read first, as it crosses the link before S3's answer does when the client sends no `Expect: 100-continue`.
     */
    const conditionalPut = async (req: http.IncomingMessage, res: http.ServerResponse, key: string) => {
      const slash = key.indexOf('/');
      let exists: boolean;
      try {
        exists = await s3rver.store.existsObject(key.slice(0, slash), key.slice(slash + 1));
      } catch {
        exists = false;
      }
      if (!exists) return handler(req, res);
      stats.preconditionFailed++;
      req.resume();
      req.once('end', () => {
        res.writeHead(412, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>',
        );
      });
    };
    const delay = fault?.delayMs ?? 0;
    if (delay > 0) setTimeout(serve, delay);
    else serve();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${host}:${port}`,
    host,
    port,
    get stats() {
      return stats;
    },
    resetStats: () => {
      stats = emptyStats();
    },
    setFault: (f) => {
      fault = f;
      // A rate limit counts from when it is set.
      window.clear();
      if (f?.hang) return;
      const waiting = [...held];
      held.clear();
      for (const serve of waiting) serve();
    },
    stop: async () => {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      held.clear();
      for (const s of sockets) s.destroy();
      await closed;
    },
    start: async () => {
      if (!server.listening) await listen(port);
    },
  };
}
