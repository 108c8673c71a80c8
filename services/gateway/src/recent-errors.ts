/** One failed request, as `/v1/status` shows it under `recentErrors`. */
export interface RecentError {
  time: string;
  method: string;
  path: string;
  status: number;
  message: string;
}

const MAX_MESSAGE = 300;

/** Hide credentials an error message may carry: URL user-info (redis://user:pass@host) and bearer tokens. */
export function redactSecrets(text: string): string {
  return text.replace(/\/\/[^/\s@]*@/g, '//***@').replace(/(bearer\s+)\S+/gi, '$1***');
}

/** The last `size` failed requests of this gateway process, newest first, for the status page. */
export class RecentErrors {
  private readonly ring: RecentError[] = [];

  constructor(private readonly size = 20) {}

  add(e: Omit<RecentError, 'time' | 'message'> & { message: string; time?: Date }): void {
    const message = redactSecrets(e.message);
    this.ring.unshift({
      time: (e.time ?? new Date()).toISOString(),
      method: e.method,
      path: redactSecrets(e.path).slice(0, 200),
      status: e.status,
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message,
    });
    if (this.ring.length > this.size) this.ring.length = this.size;
  }

  list(): RecentError[] {
    return this.ring.map((e) => ({ ...e }));
  }
}
