import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, spawnService, waitForPort } from './processes.js';

/** A running nginx serving a directory. */
export interface Nginx {
  /** `http://127.0.0.1:PORT`; a file `<root>/a/b` is at `${url}/a/b`. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** nginx.conf text: foreground, 2 workers, no access log, every path inside `workDir`. */
export function nginxConfig(workDir: string, root: string, port: number, workers = 2): string {
  const t = (name: string) => join(workDir, name);
  // As root, nginx's workers would run as `nobody` and could not read a 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `daemon off;
${user}worker_processes ${workers};
pid ${t('nginx.pid')};
error_log ${t('error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path ${t('client_body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`;
}

/** Start nginx as a foreground child with a generated config in `workDir`, serving `root` on a free port. */
export async function startNginx(workDir: string, root: string, workers = 2): Promise<Nginx> {
  await mkdir(workDir, { recursive: true });
  const port = await freePort();
  const conf = join(workDir, 'nginx.conf');
  await writeFile(conf, nginxConfig(workDir, root, port, workers));
  // -e sends the startup error log inside workDir too (nginx ≥ 1.19.5), -p sets the prefix.
  const svc = spawnService('nginx', ['-p', workDir, '-e', join(workDir, 'error.log'), '-c', conf]);
  try {
    await waitForPort('127.0.0.1', port, 15_000, svc.child);
  } catch (err) {
    await svc.stop();
    throw new Error(`nginx did not start: ${(err as Error).message}\n${svc.stderrTail()}`);
  }
  return { url: `http://127.0.0.1:${port}`, port, stop: () => svc.stop() };
}
