#!/usr/bin/env node
import { destroyS3Clients } from '@larder/s3';
import { runCli } from './run-cli.js';

// `larder status | head -3`: a closed pipe ends the output, not with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const code = await runCli(process.argv.slice(2));
destroyS3Clients();
process.exitCode = code;
