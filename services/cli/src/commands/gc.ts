import { parseArgs } from 'node:util';
import {
  BusError,
  checkReply,
  decodeJson,
  encodeJson,
  requestFailure,
  subjects,
  type GcCancelReply,
  type GcReport,
  type GcRunReply,
  type GcStatus,
  type NatsConnection,
} from '@larder/bus';
import { formatSize } from '@larder/config';
import { CliError, usage } from '../cli-error.js';
import type { Command, CommandContext } from '../command.js';
import { busAddress, withBus, type BusAddress } from '../config-bus.js';

/** How long a request to the gc-worker may take (status and cancel read Redis; run takes the leases). */
const REQUEST_MS = 10_000;
/** While following runs, how often their status is asked (progress events may be missed). */
const POLL_MS = 2000;

const PHASES = ['listing', 'mark', 'sweep-cache', 'sweep-s3', 'verify'];
const ENDED = new Set(['done', 'failed', 'cancelled']);

async function ask<T>(nc: NatsConnection, addr: BusAddress, subject: string, body: object): Promise<T> {
  try {
    return decodeJson<T>(checkReply(await nc.request(subject, encodeJson(body), { timeout: REQUEST_MS })).data);
  } catch (err) {
    const e = requestFailure(err, 'gc-worker');
    if (!(e instanceof BusError) || (e.status !== 503 && e.status !== 504)) throw new CliError(e.message, 1, { cause: err });
    throw new CliError(`no gc-worker answers in namespace ${addr.namespace} (${e.message}). Start one with 'pnpm start' or 'node services/gc-worker/dist/main.js'.`, 1, {
      cause: err,
    });
  }
}

/** One line of a run's progress: its phase among the phases, and the phase's own progress. */
export function progressLine(r: GcReport): string {
  const step = PHASES.indexOf(r.phase);
  const width = 20;
  const frac = step < 0 ? (r.phase === 'done' ? 1 : 0) : (step + (r.total ? Math.min(1, r.done / r.total) : 0)) / PHASES.length;
  const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
  const within = r.total ? ` ${r.done}/${r.total}` : r.done ? ` ${r.done}` : '';
  return `${r.store}: [${bar}] ${r.phase}${step >= 0 ? ` (${step + 1}/${PHASES.length})` : ''}${within}`;
}

/** What a run found (a dry run: would remove) or removed, in a few lines. */
export function describeRun(r: GcReport): string {
  const verb = r.apply ? 'removed' : 'would remove';
  const took = r.finishedAt ? ` in ${((r.finishedAt - r.startedAt) / 1000).toFixed(1)} s` : '';
  const head = `${r.store}: ${r.apply ? 'GC' : 'dry run'} ${r.phase}${took}${r.worker ? ` on ${r.worker}` : ''}`;
  const lines = [head];
  if (r.error) lines.push(`  error: ${r.error}`);
  lines.push(`  ${r.indexes} indexes read, ${r.referenced} chunks referenced`);
  lines.push(`  cache: ${verb} ${r.cacheChunks} chunks (${formatSize(r.cacheBytes)})`);
  if (r.s3Skipped) lines.push(`  S3: not swept (${r.s3Skipped})`);
  else
    lines.push(
      `  S3: ${r.apply ? 'deleted' : 'would delete'} ${r.s3Chunks} chunks (${formatSize(r.s3Bytes)}); kept ${r.keptByGrace} by the grace period, ${r.keptByTouch} touched by writers`,
    );
  return `${lines.join('\n')}\n`;
}

/** Follow runs to their end: a progress line per run from `gcProgress` (and status polls); returns their final reports. */
async function follow(ctx: CommandContext, nc: NatsConnection, addr: BusAddress, started: GcReport[]): Promise<GcReport[]> {
  const subj = subjects(addr.namespace);
  const tty = (ctx.err as { isTTY?: boolean }).isTTY === true;
  const latest = new Map(started.map((r) => [r.runId, r]));
  const shown = new Map<string, string>();
  const show = (r: GcReport) => {
    const line = progressLine(r);
    if (shown.get(r.runId) === line) return;
    shown.set(r.runId, line);
    // On a terminal one line that redraws; elsewhere a line per change of phase.
    if (tty) ctx.err.write(`\r\x1b[K${line}`);
    else if (!ENDED.has(r.phase)) ctx.err.write(`${line}\n`);
  };
  let wake = () => {};
  const sub = nc.subscribe(subj.gcProgress, {
    callback: (_err, msg) => {
      const r = decodeJson<GcReport>(msg.data);
      if (!latest.has(r.runId) || ENDED.has(latest.get(r.runId)!.phase)) return;
      latest.set(r.runId, r);
      show(r);
      if (ENDED.has(r.phase)) wake();
    },
  });
  try {
    for (;;) {
      if ([...latest.values()].every((r) => ENDED.has(r.phase))) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, POLL_MS);
      });
      // Events are not guaranteed: a run whose end was missed is found in the status.
      const status = await ask<GcStatus>(nc, addr, subj.gcStatus, {});
      for (const [runId, r] of latest) {
        if (ENDED.has(r.phase)) continue;
        const now = status.running.find((x) => x.runId === runId) ?? status.last.find((x) => x.runId === runId);
        if (now) latest.set(runId, now);
        else if (!status.running.some((x) => x.store === r.store)) latest.set(runId, { ...r, phase: 'failed', error: 'the run is gone (its gc-worker stopped?)' });
      }
    }
  } finally {
    sub.unsubscribe();
    if (tty) ctx.err.write('\n');
  }
  return started.map((r) => latest.get(r.runId)!);
}

async function run(ctx: CommandContext, addr: BusAddress, rest: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { store: { type: 'string' }, apply: { type: 'boolean' }, detach: { type: 'boolean' } },
  });
  if (positionals.length) throw usage('gc run takes [--store NAME] [--apply] [--detach]');
  await withBus(
    addr,
    async (nc) => {
      const reply = await ask<GcRunReply>(nc, addr, subjects(addr.namespace).gcRun, { store: values.store, apply: values.apply === true });
      for (const r of reply.refused) ctx.err.write(`${r.store}: not started: ${r.reason}\n`);
      if (reply.runs.length === 0) throw new CliError('no GC run started', 1);
      if (!values.apply) ctx.err.write('dry run: nothing is removed (--apply removes)\n');
      if (values.detach) {
        for (const r of reply.runs) ctx.out.write(`${r.store}: started run ${r.runId} on ${r.worker ?? 'a gc-worker'} ('larder gc status' follows it)\n`);
        return;
      }
      const finals = await follow(ctx, nc, addr, reply.runs);
      for (const r of finals) ctx.out.write(describeRun(r));
      if (finals.some((r) => r.phase !== 'done'))
        throw new CliError(
          `GC did not complete for ${finals
            .filter((r) => r.phase !== 'done')
            .map((r) => `${r.store} (${r.phase})`)
            .join(', ')}`,
          1,
        );
    },
    'a gc-worker',
  );
}

async function status(ctx: CommandContext, addr: BusAddress, rest: string[]): Promise<void> {
  const json = rest.includes('--json');
  if (rest.some((a) => a !== '--json')) throw usage('gc status takes [--json]');
  await withBus(
    addr,
    async (nc) => {
      const s = await ask<GcStatus>(nc, addr, subjects(addr.namespace).gcStatus, {});
      if (json) {
        ctx.out.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      if (s.running.length === 0) ctx.out.write('no GC running\n');
      for (const r of s.running) ctx.out.write(`running  ${progressLine(r)}${r.apply ? '' : ' (dry run)'} since ${new Date(r.startedAt).toISOString()} on ${r.worker ?? '?'}\n`);
      if (s.last.length === 0) ctx.out.write('no GC has run yet\n');
      for (const r of s.last) ctx.out.write(`last     ${new Date(r.finishedAt ?? r.startedAt).toISOString()}  ${describeRun(r)}`);
    },
    'a gc-worker',
  );
}

async function cancel(ctx: CommandContext, addr: BusAddress, rest: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { store: { type: 'string' } } });
  if (positionals.length) throw usage('gc cancel takes [--store NAME]');
  await withBus(
    addr,
    async (nc) => {
      const reply = await ask<GcCancelReply>(nc, addr, subjects(addr.namespace).gcCancel, { store: values.store });
      if (reply.cancelled.length === 0) ctx.out.write(`no GC ${values.store ? `of ${values.store} ` : ''}is running\n`);
      for (const c of reply.cancelled) ctx.out.write(`${c.store}: cancelling run ${c.runId} on ${c.worker ?? '?'} (it stops at its next safe point)\n`);
    },
    'a gc-worker',
  );
}

/** `larder gc run|status|cancel`: garbage collection of unreferenced chunks, through the gc-worker. */
export const gc: Command = {
  summary: 'collect unreferenced chunks (dry run unless --apply), show or cancel GC',
  usage: 'larder gc run [--store NAME] [--apply] [--detach] | status [--json] | cancel [--store NAME]',
  async run(ctx) {
    const [sub, ...rest] = ctx.args;
    const addr = () => busAddress(ctx.config);
    switch (sub) {
      case 'run':
        return run(ctx, addr(), rest);
      case 'status':
        return status(ctx, addr(), rest);
      case 'cancel':
        return cancel(ctx, addr(), rest);
      default:
        throw usage(`gc takes run, status or cancel${sub ? `, not ${JSON.stringify(sub)}` : ''}`);
    }
  },
};
