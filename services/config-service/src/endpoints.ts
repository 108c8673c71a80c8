import { Svcm, decodeJson, encodeJson, subjects, type NatsConnection, type ServiceMsg } from '@larder/bus';
import { TOKEN_HEADER, type ConfigChange, type ConfigGetRequest, type ConfigHistoryReply, type ConfigHistoryRequest } from '@larder/config-cache';
import { redactConfigText, type Token } from '@larder/config';
import { statusOf } from '@larder/errors';
import type { Logger } from '@larder/telemetry';
import { checkChanger, isAdmin } from './caller.js';
import type { ConfigOwner } from './config-owner.js';
import { ConfigChangeError } from './errors.js';
import type { HistoryStore } from './history-store.js';

/**
 * The config-service's NATS endpoints (get, set, history); a refusal answers with its status as the error code.
 * Secrets are served only to an admin caller (the Larder-Token header); changes need one when tokens are configured.
 */
export async function serveEndpoints(
  nc: NatsConnection,
  namespace: string,
  owner: ConfigOwner,
  history: HistoryStore,
  log: Logger,
  tokens: () => readonly Token[],
): Promise<{ stop(): Promise<unknown> }> {
  const subj = subjects(namespace);
  const tokenOf = (msg: ServiceMsg) => msg.headers?.get(TOKEN_HEADER) || undefined;
  const reply = (msg: ServiceMsg, body: unknown) => msg.respond(encodeJson(body));
  const fail = (msg: ServiceMsg, err: unknown) => {
    const code = statusOf(err);
    if (code >= 500) log.error('config request failed', { err: (err as Error).message });
    msg.respondError(code, (err as Error).message);
  };
  const body = <T>(msg: ServiceMsg): T => (msg.data.byteLength ? decodeJson<T>(msg.data) : ({} as T));

  const service = await new Svcm(nc).add({
    name: subj.configService,
    version: '0.1.0',
    description: 'Larder config-service: owns the config file, serves generations, applies changes',
  });
  service.addEndpoint('get', {
    subject: subj.configGet,
    handler: (err, msg) => {
      if (err) return;
      try {
        reply(msg, owner.get(body<ConfigGetRequest>(msg), isAdmin(tokens(), tokenOf(msg))));
      } catch (e) {
        fail(msg, new ConfigChangeError(400, `bad get request: ${(e as Error).message}`));
      }
    },
  });
  service.addEndpoint('set', {
    subject: subj.configSet,
    handler: (err, msg) => {
      if (err) return;
      let change: ConfigChange;
      let who: string | undefined;
      try {
        who = checkChanger(tokens(), tokenOf(msg));
      } catch (e) {
        log.warn('config change refused', { err: (e as Error).message });
        fail(msg, e);
        return;
      }
      try {
        change = body<ConfigChange>(msg);
      } catch (e) {
        fail(msg, new ConfigChangeError(400, `bad set request: ${(e as Error).message}`));
        return;
      }
      owner.apply(change, who).then(
        (r) => reply(msg, r),
        (e: unknown) => fail(msg, e),
      );
    },
  });
  service.addEndpoint('history', {
    subject: subj.configHistory,
    handler: (err, msg) => {
      if (err) return;
      void (async () => {
        try {
          const req = body<ConfigHistoryRequest>(msg);
          if (req.generation === undefined) {
            reply(msg, { entries: await history.list() } satisfies ConfigHistoryReply);
            return;
          }
          const one = await history.get(req.generation);
          if (!one) throw new ConfigChangeError(404, `generation ${req.generation} is not kept`);
          const text = isAdmin(tokens(), tokenOf(msg)) ? one.text : redactConfigText(one.text);
          reply(msg, { ...one, text } satisfies ConfigHistoryReply);
        } catch (e) {
          fail(msg, e);
        }
      })();
    },
  });
  return service;
}
