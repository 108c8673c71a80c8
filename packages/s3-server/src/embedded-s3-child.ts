// The embedded S3 server in a process of its own (see startEmbeddedS3Process): options in argv[2] (JSON), then
// requests from the parent over IPC, each answered with its id.
import { startEmbeddedS3 } from './embedded-s3.js';
import type { ChildRequest } from './embedded-s3-process.js';
import type { EmbeddedS3Options } from './types.js';

const s3 = await startEmbeddedS3(JSON.parse(process.argv[2] ?? '{}') as EmbeddedS3Options);
process.on('message', (m: ChildRequest) => {
  const reply = (result?: unknown) => process.send?.({ id: m.id, result });
  if (m.op === 'stats') return reply(s3.stats);
  if (m.op === 'reset') return reply(s3.resetStats());
  if (m.op === 'fault') return reply(s3.setFault(m.fault));
});
// The parent went away: so does the server.
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, result: { endpoint: s3.endpoint, host: s3.host, port: s3.port } });
