import { BusError, connectBus, type NatsConnection } from '@larder/bus';
import { ConfigError, applyEnvOverrides, configPath, readConfigFileLenient, readEnvironment, type Config } from '@larder/config';
import { CliError } from './cli-error.js';

/** Where the config-service answers: NATS servers and namespace. */
export interface BusAddress {
  servers: string | string[];
  namespace: string;
}

/** NATS servers and namespace from the config; from the raw file (and env) when the file does not validate, so that a broken file can still be fixed. */
export function busAddress(config: () => Config): BusAddress {
  try {
    const c = config();
    return { servers: c.nats.servers, namespace: c.namespace };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const environment = readEnvironment();
    const raw = applyEnvOverrides(readConfigFileLenient(configPath(environment)), environment.overrides);
    const nats = (raw.nats ?? {}) as { servers?: string | string[] };
    const namespace = typeof raw.namespace === 'string' ? raw.namespace : 'larder';
    return { servers: nats.servers ?? 'nats://127.0.0.1:4222', namespace };
  }
}

/** Connect to NATS for one CLI command, run `fn`, close; `service` names what the command wanted to reach. */
export async function withBus<T>(addr: BusAddress, fn: (nc: NatsConnection) => Promise<T>, service = 'the config-service'): Promise<T> {
  let nc: NatsConnection;
  try {
    nc = await connectBus({ servers: addr.servers, name: 'larder-cli', timeoutMs: 3000 });
  } catch (err) {
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
  if (err.status === 503 || err.status === 504) {
    return new CliError(
      `the config-service of namespace ${addr.namespace} is not running (${err.message}).${nothing} Start it with 'pnpm start' or 'node services/config-service/dist/main.js'; the file is only changed through it.`,
      1,
      { cause: err },
    );
  }
  return new CliError(err.message, 1, { cause: err });
}
