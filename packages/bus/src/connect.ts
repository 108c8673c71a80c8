import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '@larder/telemetry';

const log = createLogger('bus');

/** A change in a NATS connection's state, as {@link connectBus} logs it. */
export interface BusStatusEvent {
  type: 'disconnect' | 'reconnecting' | 'reconnect' | 'error' | 'ldm' | 'staleConnection';
  /** The connection's name (`opts.name`). */
  connection: string;
  /** The server lost (disconnect, reconnecting), regained (reconnect) or entering lame duck mode (ldm). */
  server?: string;
  /** reconnect: how long the connection was down and how many dial attempts it took. */
  downMs?: number;
  attempts?: number;
  error?: Error;
}

/**
 * Connect to NATS; reconnects forever so a NATS restart does not end a service. Disconnects, reconnects and errors
 * are logged once per event (a reconnect says how long the connection was down) and passed to `onStatus`.
 */
export async function connectBus(opts: { servers: string | string[]; name: string; timeoutMs?: number; onStatus?: (event: BusStatusEvent) => void }): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: opts.servers,
      name: opts.name,
      timeout: opts.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${String(opts.servers)}: ${(err as Error).message}`, { cause: err });
  }
  void watchStatus(nc, opts.name, opts.onStatus);
  return nc;
}

/** Log the connection's status events until it closes. nats.js reports `reconnecting` per dial attempt: logged once per outage. */
async function watchStatus(nc: NatsConnection, connection: string, onStatus?: (event: BusStatusEvent) => void): Promise<void> {
  let down: { since: number; attempts: number; server: string } | undefined;
  const emit = (level: 'info' | 'warn' | 'error', msg: string, event: BusStatusEvent) => {
    const { type: _type, ...meta } = event;
    log[level](msg, meta);
    onStatus?.(event);
  };
  try {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          down = { since: Date.now(), attempts: 0, server: s.server };
          emit('warn', 'NATS disconnected', { type: 'disconnect', connection, server: s.server });
          break;
        case 'reconnecting':
          if (down && ++down.attempts === 1) emit('info', 'NATS reconnecting', { type: 'reconnecting', connection, server: down.server });
          break;
        case 'reconnect':
          emit('info', 'NATS reconnected', { type: 'reconnect', connection, server: s.server, downMs: down ? Date.now() - down.since : undefined, attempts: down?.attempts });
          down = undefined;
          break;
        case 'error':
          emit('error', 'NATS error', { type: 'error', connection, error: s.error });
          break;
        case 'ldm':
          emit('warn', 'NATS server entering lame duck mode', { type: 'ldm', connection, server: s.server });
          break;
        case 'staleConnection':
          emit('warn', 'NATS connection stale (no pong): reconnecting', { type: 'staleConnection', connection, server: down?.server });
          break;
        default:
          break;
      }
    }
  } catch (err) {
    log.warn('NATS status watch ended', { connection, err });
  }
}
