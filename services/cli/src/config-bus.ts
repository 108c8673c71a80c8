import { BusConnectError, BusError, busOptionsFrom, connectBus, type NatsConnection } from '@larder/bus';
import { ConfigError, applyEnvOverrides, configPath, readConfigFileLenient, readEnvironment, type Config } from '@larder/config';
import { CliError } from './cli-error.js';

/** Where the config-service answers: the NATS connection settings (servers, credentials, TLS) and namespace. */
export interface BusAddress {
  nats: Config['nats'];
  namespace: string;
}

/** NATS settings and namespace from the config; from the raw file (and env) when the file does not validate, so that a broken file can still be fixed. */
export function busAddress(config: () => Config): BusAddress {
  try {
    const c = config();
    return { nats: c.nats, namespace: c.namespace };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const environment = readEnvironment();
    const raw = applyEnvOverrides(readConfigFileLenient(configPath(environment)), environment.overrides);
    const nats = (raw.nats ?? {}) as Record<string, unknown>;
    const text = (k: string) => (typeof nats[k] === 'string' ? nats[k] : undefined);
    const servers = typeof nats.servers === 'string' || Array.isArray(nats.servers) ? (nats.servers as string | string[]) : 'nats://127.0.0.1:4222';
    const tls = typeof nats.tls === 'object' && nats.tls !== null ? (nats.tls as Config['nats']['tls']) : undefined;
    const namespace = typeof raw.namespace === 'string' ? raw.namespace : 'larder';
    return { nats: { servers, user: text('user'), pass: text('pass'), token: text('token'), tls }, namespace };
  }
}

/** Connect to NATS for one CLI command, run `fn`, close; `service` names what the command wanted to reach. */
export async function withBus<T>(addr: BusAddress, fn: (nc: NatsConnection) => Promise<T>, service = 'the config-service'): Promise<T> {
  let nc: NatsConnection;
  try {
    nc = await connectBus({ ...busOptionsFrom(addr, 'larder-cli'), timeoutMs: 3000 });
  } catch (err) {
    // Refused credentials or TLS, or an unreadable certificate file: the message says what to fix.
    if ((err instanceof BusConnectError && err.reason !== 'unreachable') || err instanceof ConfigError) throw new CliError((err as Error).message, 1, { cause: err });
    throw new CliError(`${(err as Error).message}: cannot reach ${service} (is 'pnpm start' running?)`, 1, { cause: err });
  }
  try {
    return await fn(nc);
  } finally {
    await nc.close().catch(() => {});
  }
}

/** Turn a failed config-service request into a CliError that says what happened to the config. */
export function configServiceError(err: unknown, addr: BusAddress, changing: boolean): Error {
  if (!(err instanceof BusError)) return err as Error;
  const nothing = changing ? ' Nothing was changed.' : '';
  if (err.status === 403) {
    return new CliError(
      `not allowed to change the config as this NATS user (${err.message}).${nothing} Config changes take the NATS user that may make them (the admin: LARDER_NATS_USER, LARDER_NATS_PASSWORD).`,
      1,
      { cause: err },
    );
  }
  if (err.status === 503 || err.status === 504) {
    return new CliError(
      `the config-service of namespace ${addr.namespace} is not running (${err.message}).${nothing} Start it with 'pnpm start' or 'node services/config-service/dist/main.js'; the file is only changed through it.`,
      1,
      { cause: err },
    );
  }
  if (err.status === 401 || err.status === 403) {
    const why = err.status === 401 ? 'set LARDER_TOKEN to an admin token' : 'the token in LARDER_TOKEN is not an admin token for every datastore';
    return new CliError(`${err.message} (${why})`, 1, { cause: err });
  }
  return new CliError(err.message, 1, { cause: err });
}
