import { snapshotS3, startLocalParts } from './wan-s3.js';
import type { WanS3Options } from './wan-s3.js';

/** Child process: runs the embedded S3 and its WAN proxy and answers the parent's calls over IPC. */
async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as WanS3Options;
  const { s3, proxy } = await startLocalParts(opts);
  const send = (m: unknown) => process.send?.(m);
  process.on('message', (m: { id: number; op: string; arg?: unknown }) => {
    void (async () => {
      try {
        let result: unknown;
        if (m.op === 's3Stats') result = snapshotS3(s3);
        else if (m.op === 'proxyStats') result = { ...proxy.stats };
        else if (m.op === 'resetStats') {
          s3.resetStats();
          proxy.resetStats();
        } else if (m.op === 'setFault') s3.setFault((m.arg as Parameters<typeof s3.setFault>[0]) ?? undefined);
        else if (m.op === 'stop') {
          await proxy.stop();
          await s3.stop();
          send({ id: m.id });
          process.disconnect?.();
          setTimeout(() => process.exit(0), 50).unref();
          return;
        } else throw new Error(`unknown op ${m.op}`);
        send({ id: m.id, result });
      } catch (err) {
        send({ id: m.id, error: (err as Error).message });
      }
    })();
  });
  // The parent going away ends this process too.
  process.on('disconnect', () => {
    void Promise.allSettled([proxy.stop(), s3.stop()]).then(() => process.exit(0));
  });
  send({ ready: { endpoint: proxy.endpoint, host: proxy.host, port: proxy.port, directEndpoint: s3.endpoint } });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
