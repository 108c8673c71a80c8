import { resolveDatastores, type Config } from '@larder/config';

/** The demo key of the default larder.yaml: its secret is printed at start, any other key's never is. */
const DEMO_KEY = { accessKeyId: 'larder-demo', secretAccessKey: 'larder-demo-secret' };

/** The start banner's lines about the S3 endpoint: its URL, client buckets and access keys (the demo secret only). */
export function s3EndpointLines(s3Url: string | undefined, config: Config): string {
  if (!s3Url) return '';
  const buckets = resolveDatastores(config)
    .flatMap((d) => d.clientBucket ?? [])
    .join(', ');
  const keys = config.accessKeys.map((k) =>
    k.accessKeyId === DEMO_KEY.accessKeyId && k.secretAccessKey === DEMO_KEY.secretAccessKey ? `${k.accessKeyId} / ${k.secretAccessKey} (demo key)` : k.accessKeyId,
  );
  const lines = [`  S3 endpoint: ${s3Url} (buckets: ${buckets || 'none'}; keys: ${keys.join(', ') || 'none configured: every request is refused'})`];
  const demo = config.accessKeys.find((k) => k.accessKeyId === DEMO_KEY.accessKeyId && k.secretAccessKey === DEMO_KEY.secretAccessKey);
  const bucket = resolveDatastores(config).find((d) => d.clientBucket)?.clientBucket;
  if (demo && bucket) {
    lines.push(`    try: AWS_ACCESS_KEY_ID=${demo.accessKeyId} AWS_SECRET_ACCESS_KEY=${demo.secretAccessKey} aws --endpoint-url ${s3Url} s3 ls s3://${bucket}/`);
  }
  return `${lines.join('\n')}\n`;
}
