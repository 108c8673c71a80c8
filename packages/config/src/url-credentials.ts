/** A server URL with its user and password taken out. */
export interface UrlCredentials {
  /** The URL without user and password (safe to log). */
  url: string;
  username?: string;
  password?: string;
}

const WITH_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Split `scheme://user:pass@host:port/...` into the URL without credentials and the (percent-decoded) user and
 * password; a URL without them, or one that does not parse, comes back unchanged.
 */
export function splitUrlCredentials(url: string): UrlCredentials {
  if (!WITH_SCHEME.test(url)) return { url };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  if (!u.username && !u.password) return { url };
  const out: UrlCredentials = { url: '' };
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  out.url = u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  return out;
}

/** `url` with its password (or a lone user, which NATS takes for a token) shown as `***`: for logs and error messages. */
export function maskUrlCredentials(url: string): string {
  // By pattern, not by URL parsing: a URL that does not parse must not leak either.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_m, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return colon >= 0 ? `${scheme}${auth.slice(0, colon)}:***@` : `${scheme}***@`;
  });
}
