import { stringify } from 'yaml';
import { parseRedactedConfig, readEnvironment } from '@larder/config';
import { requestConfig, requestConfigChange, requestConfigHistory, type ConfigChange, type ConfigChangeResult, type ConfigSnapshot } from '@larder/config-cache';
import { usage } from '../cli-error.js';
import type { Command, CommandContext } from '../command.js';
import { busAddress, configServiceError, withBus, type BusAddress } from '../config-bus.js';
import { editUntilValid } from '../config-editor.js';

function valueAt(root: unknown, path: string): { found: boolean; value: unknown } {
  let node = root;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return { found: false, value: undefined };
    node = (node as Record<string, unknown>)[part];
  }
  return { found: true, value: node };
}

function show(value: unknown): string {
  return typeof value === 'object' && value !== null ? stringify(value).trimEnd() : String(value);
}

/** The CLI's answer to a change: the new generation, what changed, and what needs a restart. */
export function describeChange(r: ConfigChangeResult): string {
  if (r.unchanged) return `no change: the config already says so (generation ${r.generation})\n`;
  const lines = [`generation ${r.generation}: ${r.changed.length ? `changed ${r.changed.join(', ')}` : 'no setting changed (comments or layout only)'}`];
  if (r.restartRequired.length) {
    lines.push(`restart required for ${r.restartRequired.join(', ')}: running services keep the old value until they are restarted`);
  } else if (r.changed.length) {
    lines.push('applied without a restart: every service picks it up within a moment');
  }
  return `${lines.join('\n')}\n`;
}

async function snapshotOf(addr: BusAddress, run: (snap: ConfigSnapshot) => Promise<void>): Promise<void> {
  await withBus(addr, async (nc) => {
    let reply;
    try {
      reply = await requestConfig(nc, addr.namespace);
    } catch (err) {
      throw configServiceError(err, addr, false);
    }
    if (reply.unchanged) throw new Error('the config-service answered without the config');
    await run(reply);
  });
}

async function change(ctx: CommandContext, addr: BusAddress, c: ConfigChange): Promise<void> {
  await withBus(addr, async (nc) => {
    try {
      ctx.out.write(describeChange(await requestConfigChange(nc, addr.namespace, c, undefined, readEnvironment().token)));
    } catch (err) {
      throw configServiceError(err, addr, true);
    }
  });
}

async function get(ctx: CommandContext, addr: BusAddress, rest: string[]): Promise<void> {
  const json = rest.includes('--json');
  const [path, ...extra] = rest.filter((a) => a !== '--json');
  if (extra.length) throw usage('config get takes at most one PATH');
  await snapshotOf(addr, async (snap) => {
    if (snap.lastError) ctx.err.write(`warning: the file on disk is not in force: ${snap.lastError}\n`);
    if (!path) {
      if (json) ctx.out.write(`${JSON.stringify({ generation: snap.generation, digest: snap.digest, file: snap.file, config: parseRedactedConfig(snap.raw) }, null, 2)}\n`);
      else {
        ctx.err.write(`# ${snap.file}, generation ${snap.generation} (${snap.digest.slice(0, 12)})\n`);
        ctx.out.write(snap.text.endsWith('\n') || snap.text === '' ? snap.text : `${snap.text}\n`);
      }
      return;
    }
    const effective = valueAt(parseRedactedConfig(snap.raw), path);
    if (!effective.found) throw usage(`no such setting: ${path}`);
    const written = valueAt(snap.raw, path);
    if (json) ctx.out.write(`${JSON.stringify(effective.value)}\n`);
    else if (!written.found) ctx.out.write(`${show(effective.value)}${typeof effective.value === 'object' ? '' : '  (default)'}\n`);
    else if (typeof written.value !== 'object' && written.value !== effective.value) ctx.out.write(`${show(written.value)}  (${show(effective.value)})\n`);
    else ctx.out.write(`${show(effective.value)}\n`);
  });
}

async function history(ctx: CommandContext, addr: BusAddress, rest: string[]): Promise<void> {
  const [gen, ...extra] = rest;
  if (extra.length || (gen !== undefined && !/^\d+$/.test(gen))) throw usage('config history takes at most one GENERATION (a number)');
  await withBus(addr, async (nc) => {
    let reply;
    try {
      reply = await requestConfigHistory(nc, addr.namespace, gen === undefined ? {} : { generation: Number(gen) });
    } catch (err) {
      throw configServiceError(err, addr, false);
    }
    if ('text' in reply) {
      ctx.err.write(`# generation ${reply.entry.generation}, ${reply.entry.at}, ${reply.entry.source}\n`);
      ctx.out.write(reply.text);
      return;
    }
    for (const e of reply.entries) {
      const what = e.changed.length ? e.changed.join(', ') : e.source === 'start' ? '(first version)' : '(no setting changed)';
      const restart = e.restartRequired.length ? `  [restart: ${e.restartRequired.join(', ')}]` : '';
      ctx.out.write(`${String(e.generation).padStart(5)}  ${e.at}  ${e.digest.slice(0, 12)}  ${e.source.padEnd(5)}  ${what}${restart}\n`);
    }
  });
}

async function edit(ctx: CommandContext, addr: BusAddress): Promise<void> {
  let base: ConfigSnapshot | undefined;
  await snapshotOf(addr, async (snap) => {
    base = snap;
  });
  const snap = base as ConfigSnapshot;
  if (snap.lastError) ctx.err.write(`note: the file on disk has an edit that was refused (${snap.lastError}); you are editing generation ${snap.generation}, the one in force\n`);
  const text = await editUntilValid(snap.text, 'edited config');
  if (text === undefined) {
    ctx.out.write(`no change (generation ${snap.generation})\n`);
    return;
  }
  await change(ctx, addr, { op: 'replace', text, baseGeneration: snap.generation });
}

/** `larder config get|set|unset|edit|history`: the configuration, through the config-service. */
export const configCommand: Command = {
  summary: 'show or change the configuration (through the config-service)',
  usage: 'larder config get [PATH] [--json] | set PATH VALUE | unset PATH | edit | history [GEN]',
  async run(ctx) {
    const [sub, ...rest] = ctx.args;
    const addr = () => busAddress(ctx.config);
    switch (sub) {
      case 'get':
        return get(ctx, addr(), rest);
      case 'set': {
        if (rest.length !== 2) throw usage('config set takes PATH VALUE (VALUE is YAML: 10GiB, 32, {layout: pbs, bucket: b}; null removes PATH)');
        const [path, value] = rest as [string, string];
        return change(ctx, addr(), value.trim() === 'null' || value.trim() === '~' ? { op: 'unset', path } : { op: 'set', path, value });
      }
      case 'unset':
        if (rest.length !== 1) throw usage('config unset takes PATH');
        return change(ctx, addr(), { op: 'unset', path: rest[0] as string });
      case 'edit':
        if (rest.length) throw usage('config edit takes no arguments');
        return edit(ctx, addr());
      case 'history':
        return history(ctx, addr(), rest);
      default:
        throw usage(`config takes get, set, unset, edit or history${sub ? `, not ${JSON.stringify(sub)}` : ''}`);
    }
  },
};
