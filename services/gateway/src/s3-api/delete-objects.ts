import { createHash } from 'node:crypto';
import type { ResolvedDatastore } from '@larder/config';
import { chunkRef, type BucketContext } from './s3-context.js';
import { S3ApiError } from './s3-errors.js';
import { checkKey } from './s3-request.js';
import { sendXml } from './s3-response.js';
import { MAX_XML_BYTES, readBody } from './request-body.js';
import { upstreamXml } from './upstream.js';
import { child, childText, parseXml, xmlDocument, XmlSyntaxError, type XmlElement, type XmlTree } from './xml.js';

/** S3's limit on the keys of one DeleteObjects. */
const MAX_DELETE_KEYS = 1000;

/** A request body in XML, read (at most 1 MiB, verified) and parsed; anything malformed is MalformedXML. */
export async function readXmlBody(ctx: BucketContext, root: string): Promise<XmlElement> {
  const body = await readBody(ctx.req, ctx.verified, MAX_XML_BYTES, (n) => (ctx.stats.bytesIn += n), 'MalformedXML');
  let doc: XmlElement;
  try {
    doc = parseXml(body.toString('utf8'));
  } catch (err) {
    if (!(err instanceof XmlSyntaxError)) throw err;
    throw new S3ApiError('MalformedXML', `the XML you provided was not well-formed: ${err.message}`, 400, { cause: err });
  }
  if (doc.name !== root) throw new S3ApiError('MalformedXML', `expected <${root}>, got <${doc.name}>`);
  return doc;
}

/** What the endpoint reports for one key of a DeleteObjects. */
interface Outcome {
  key: string;
  versionId?: string;
  error?: { code: string; message: string };
}

/**
 * DeleteObjects: the keys deleted in one upstream request under the datastore's prefix, answered with Deleted and Error
 * entries (Errors only in Quiet mode). A key the endpoint refuses (`..`) is an Error entry and never reaches S3.
 * Deleted chunk objects are forgotten by the cache.
 */
export async function deleteObjects(ctx: BucketContext): Promise<void> {
  const doc = await readXmlBody(ctx, 'Delete');
  const quiet = childText(doc, 'Quiet')?.trim() === 'true';
  const objects = doc.children.filter((c) => c.name === 'Object');
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw new S3ApiError('MalformedXML', `a Delete names 1 to ${MAX_DELETE_KEYS} objects`);
  const outcomes: Outcome[] = [];
  const toDelete: Outcome[] = [];
  for (const o of objects) {
    const key = child(o, 'Key')?.text;
    if (key === undefined) throw new S3ApiError('MalformedXML', 'an Object without a Key');
    const versionId = childText(o, 'VersionId');
    const outcome: Outcome = { key, versionId };
    try {
      checkKey(key);
      toDelete.push(outcome);
    } catch (err) {
      const e = err as S3ApiError;
      outcome.error = { code: e.code, message: e.message };
    }
    outcomes.push(outcome);
  }
  if (toDelete.length > 0) {
    const body = Buffer.from(
      xmlDocument('Delete', {
        Quiet: 'true',
        Object: toDelete.map((o) => ({ Key: o.key, VersionId: o.versionId })),
      }),
    );
    const up = await ctx.upstream.request(ctx.ds, {
      method: 'POST',
      query: [['delete', '']],
      headers: { 'content-md5': createHash('md5').update(body).digest('base64'), 'content-type': 'application/xml' },
      body,
    });
    const result = await upstreamXml(up, 'NoSuchBucket', 'the delete');
    // Quiet upstream: only failures come back; every other key was deleted.
    const byKey = new Map(toDelete.map((o) => [o.key, o]));
    for (const e of result.children.filter((c) => c.name === 'Error')) {
      const o = byKey.get(childText(e, 'Key') ?? '');
      if (o) o.error = { code: childText(e, 'Code') ?? 'InternalError', message: childText(e, 'Message') ?? 'S3 could not delete it' };
    }
    const chunks = ctx.chunkObjects;
    if (chunks) {
      // Deleted chunk objects, by the datastore they lie in: their records and cached copies go too.
      const byStore = new Map<ResolvedDatastore, string[]>();
      for (const o of toDelete) {
        const ref = o.error ? undefined : chunkRef(ctx, o.key);
        if (ref) byStore.set(ref.ds, [...(byStore.get(ref.ds) ?? []), ref.digest]);
      }
      for (const [ds, digests] of byStore) await chunks.deleted(ds, digests);
    }
  }
  const tree: XmlTree = {
    Deleted: quiet ? undefined : outcomes.filter((o) => !o.error).map((o) => ({ Key: o.key, VersionId: o.versionId })),
    Error: outcomes.filter((o) => o.error).map((o) => ({ Key: o.key, VersionId: o.versionId, Code: o.error?.code, Message: o.error?.message })),
  };
  sendXml(ctx.res, 200, 'DeleteResult', tree, (n) => (ctx.stats.bytesOut += n));
}
