import { ConfigError, readTlsFiles, splitUrlCredentials, type Config, type TlsFiles } from '@larder/config';
import { StatusError } from '@larder/errors';
import { createLogger } from '@larder/telemetry';
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';

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

/** Options of {@link connectBus}; build them from a config with {@link busOptionsFrom} so that no field is forgotten. */
export interface BusConnectOptions {
  /** Server URLs; a `nats://user:pass@host` or `nats://token@host` URL's credentials are used unless given below. */
  servers: string | string[];
  /** The connection's name (NATS monitoring, logs). */
  name: string;
  /** User and password, or a token. */
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
  /** TLS with these PEM files (read when connecting): the CA to verify the server, a client certificate and key. */
  tls?: TlsFiles | undefined;
  timeoutMs?: number;
  onStatus?: (event: BusStatusEvent) => void;
}

/** The connection options of a config's `nats` section: servers, credentials and TLS, for the connection `name`. */
export function busOptionsFrom(config: Pick<Config, 'nats'>, name: string): BusConnectOptions {
  const { servers, user, pass, token, tls } = config.nats;
  return { servers, name, user, pass, token, tls };
}

/** Why NATS could not be connected to: `auth` (credentials refused), `tls` (handshake or certificate), `unreachable` (anything else). */
export type BusConnectFailure = 'auth' | 'tls' | 'unreachable';

/** The first connection to NATS failed (503); the message names the servers (credentials masked) and why, never a secret. */
export class BusConnectError extends StatusError {
  override readonly name: string = 'BusConnectError';
  readonly reason: BusConnectFailure;

  constructor(reason: BusConnectFailure, message: string, options?: { cause?: unknown }) {
    super(503, message, options);
    this.reason = reason;
  }
}

const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_(VERIFY|GET)_|CERT_)/;

/** `err` or one of its causes that is a TLS failure (Node's and OpenSSL's error codes). */
function tlsFailure(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && TLS_CODE.test(code)) return e;
  }
  return undefined;
}

/** Server URLs without credentials, and the user/password or token the first URL that had some carried. */
function serversAndCredentials(servers: string | string[]): { servers: string[]; user?: string; pass?: string; token?: string } {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  let found = false;
  for (const s of Array.isArray(servers) ? servers : [servers]) {
    const { url, username, password } = splitUrlCredentials(s);
    out.servers.push(url);
    if (found || username === undefined) continue;
    found = true;
    // nats://token@host (no password) is a token, as in the other NATS clients.
    if (password === undefined) out.token = username;
    else [out.user, out.pass] = [username, password];
  }
  return out;
}

/**
 * Connect to NATS; reconnects forever so a NATS restart does not end a service. Disconnects, reconnects and errors
 * are logged once per event (a reconnect says how long the connection was down) and passed to `onStatus`.
 * Credentials: `user`/`pass` or `token` (else those of a server URL). TLS: the files of `tls` are read here (ConfigError
 * naming the file when one cannot be read). A failed first connection is a {@link BusConnectError}.
 */
export async function connectBus(opts: BusConnectOptions): Promise<NatsConnection> {
  const fromUrls = serversAndCredentials(opts.servers);
  const explicit = opts.user !== undefined || opts.pass !== undefined || opts.token !== undefined;
  const user = explicit ? opts.user : fromUrls.user;
  const pass = explicit ? opts.pass : fromUrls.pass;
  const token = explicit ? opts.token : fromUrls.token;
  if (pass !== undefined && user === undefined) throw new ConfigError('nats', [{ path: 'pass', message: 'a password needs a user (nats.user, LARDER_NATS_USER)' }]);
  const tls = opts.tls ? readTlsFiles(opts.tls, 'nats.tls') : undefined;
  const where = fromUrls.servers.join(', ');
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: fromUrls.servers,
      name: opts.name,
      timeout: opts.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...(user !== undefined ? { user, pass } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(tls ? { tls } : {}),
    });
  } catch (err) {
    throw connectFailure(err, where, user !== undefined || token !== undefined);
  }
  void watchStatus(nc, opts.name, opts.onStatus);
  return nc;
}

/** The BusConnectError for a failed first connection to `where`: which servers, and why. */
function connectFailure(err: unknown, where: string, withCredentials: boolean): BusConnectError {
  const said = (err as Error)?.message ?? String(err);
  if (err instanceof errors.AuthorizationError) {
    const fix = withCredentials
      ? 'the server refused the credentials: check nats.user/nats.pass or nats.token (LARDER_NATS_USER, LARDER_NATS_PASSWORD, LARDER_NATS_TOKEN)'
      : 'the server requires credentials: set nats.user/nats.pass or nats.token (LARDER_NATS_USER, LARDER_NATS_PASSWORD, LARDER_NATS_TOKEN)';
    return new BusConnectError('auth', `NATS at ${where} refused the connection (${said}): ${fix}`, { cause: err });
  }
  const tls = tlsFailure(err);
  if (tls) return new BusConnectError('tls', `TLS with NATS at ${where} failed (${tls.message}): check nats.tls (caFile, certFile, keyFile)`, { cause: err });
  return new BusConnectError('unreachable', `cannot connect to NATS at ${where}: ${said}`, { cause: err });
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
