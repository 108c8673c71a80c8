#!/usr/bin/env node
import { destroyS3Clients } from '@larder/s3';
import { runCli } from './run-cli.js';

const code = await runCli(process.argv.slice(2));
destroyS3Clients();
process.exitCode = code;
