import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { encodeDataBlob, parseFixedIndex } from '@larder/formats';
import { objectTarget, parseEndpoint, SigV4Signer, type SigV4Credentials } from '@larder/s3';
import type { PbsBackupSource } from './pbs-backup-fixture.js';
import { runPool, sleep } from './pool.js';

/** Where a backup goes: an S3 endpoint (path style), a bucket and the datastore's prefix in it. */
export interface PbsS3Target {
  endpoint: string;
  bucket: string;
  /** Datastore prefix inside the bucket ('' for none). */
  prefix: string;
  credentials: SigV4Credentials;
  region?: string;
}

/** What one backup did, as the client saw it. */
export interface PbsBackupResult {
  ms: number;
  /** Conditional chunk PUTs sent (one per distinct chunk, retries not counted). */
  chunkPuts: number;
  /** Chunk PUTs answered 200 (stored) and 412 (already there). */
  stored: number;
  existed: number;
  /** Request body bytes the client sent (chunks, index and manifest, retries included). */
  bodyBytes: number;
  retries: number;
  /** Keys of the snapshot's index and manifest (under `.cnt/`). */
  indexKey: string;
  manifestKey: string;
}

/** An S3 answer: status and body (error documents are small; object PUTs answer with an empty body). */
interface Answer {
  status: number;
  body: string;
}

/**
 * A backup as Proxmox Backup Server's S3 datastore backend writes it: every distinct chunk with a conditional
 * PutObject (`If-None-Match: *`, SigV4 with the payload's SHA-256; 412 means the chunk is already there), `concurrency`
 * uploads at once, then the snapshot's `.fidx` and its manifest (`index.json.blob`) under `.cnt/vm/<id>/<time>/`.
 */
export async function pbsS3Backup(src: PbsBackupSource, target: PbsS3Target, opts: { concurrency: number; backupTime: Date; backupId?: string }): Promise<PbsBackupResult> {
  const ep = parseEndpoint(target.endpoint);
  const signer = new SigV4Signer(target.credentials, target.region ?? 'us-east-1');
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const base = target.prefix ? `${target.prefix.replace(/\/+$/, '')}/` : '';
  let bodyBytes = 0;
  let retries = 0;

  const send = async (key: string, body: Buffer, headers: Record<string, string>): Promise<Answer> => {
    const t = objectTarget(ep, target.bucket, key, true);
    const signed = signer.sign({
      method: 'PUT',
      host: t.host,
      path: t.path,
      headers: { ...headers, 'content-length': String(body.length), 'content-type': 'application/octet-stream' },
      // Hashed off the event loop (WebCrypto runs in the thread pool), as PBS hashes its uploads on the worker threads of
      // its async runtime: a client hashing 8 uploads one after another on one thread would be the bottleneck itself.
      payloadHash: Buffer.from(await webcrypto.subtle.digest('SHA-256', body)).toString('hex'),
    });
    bodyBytes += body.length;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: ep.hostname, port: ep.port, method: 'PUT', path: t.path, headers: signed, agent }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  };

  /** PUT with retries on transport errors, 5xx and 409 (a conflicting conditional write in flight), as PBS retries. */
  const put = async (key: string, body: Buffer, headers: Record<string, string> = {}): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      let answer: Answer | undefined;
      let error: unknown;
      try {
        answer = await send(key, body, headers);
      } catch (err) {
        error = err;
      }
      if (answer && (answer.status === 200 || answer.status === 412)) return answer.status;
      const retryable = !answer || answer.status >= 500 || answer.status === 409;
      if (!retryable || attempt >= 5) {
        const why = answer ? `HTTP ${answer.status}: ${answer.body.replace(/\s+/g, ' ').slice(0, 300)}` : (error as Error).message;
        throw new Error(`PUT ${target.bucket}/${key} via ${target.endpoint}: ${why}`);
      }
      retries++;
      await sleep(20 * attempt);
    }
  };

  const t0 = performance.now();
  let stored = 0;
  let existed = 0;
  try {
    await runPool(src.blobs.length, opts.concurrency, async (i) => {
      const blob = src.blobs[i];
      if (!blob) return;
      const body = await readFile(blob.file);
      const status = await put(`${base}.chunks/${blob.digest.slice(0, 4)}/${blob.digest}`, body, { 'if-none-match': '*' });
      if (status === 200) stored++;
      else existed++;
    });
    const snapshot = `${base}.cnt/vm/${opts.backupId ?? '100'}/${opts.backupTime.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
    const indexKey = `${snapshot}/drive-scsi0.img.fidx`;
    await put(indexKey, src.fidx);
    const manifest = {
      'backup-type': 'vm',
      'backup-id': opts.backupId ?? '100',
      'backup-time': Math.floor(opts.backupTime.getTime() / 1000),
      files: [{ filename: 'drive-scsi0.img.fidx', 'crypt-mode': 'none', size: src.sizeBytes, csum: parseFixedIndex(src.fidx).indexCsum.toString('hex') }],
      unprotected: {},
      signature: null,
    };
    const manifestKey = `${snapshot}/index.json.blob`;
    await put(manifestKey, encodeDataBlob(Buffer.from(JSON.stringify(manifest))));
    return { ms: performance.now() - t0, chunkPuts: src.blobs.length, stored, existed, bodyBytes, retries, indexKey, manifestKey };
  } finally {
    agent.destroy();
  }
}
