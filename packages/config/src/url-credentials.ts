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
