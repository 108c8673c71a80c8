import { connect, type NatsConnection } from '@nats-io/transport-node';

/** Connect to NATS; reconnects forever so a NATS restart does not end a service. */
export async function connectBus(opts: { servers: string | string[]; name: string; timeoutMs?: number }): Promise<NatsConnection> {
  try {
    return await connect({
      servers: opts.servers,
      name: opts.name,
      timeout: opts.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${String(opts.servers)}: ${(err as Error).message}`, { cause: err });
  }
}
