import { readEnvironment, type Config } from '@larder/config';
import { CliError } from './cli-error.js';

/** The gateway's base URL: LARDER_GATEWAY_URL, else http://<gateway.listen>. */
export function gatewayUrl(config: Config): string {
  return (readEnvironment().gatewayUrl ?? `http://${config.gateway.listen}`).replace(/\/$/, '');
}

/** GET a gateway path; a refused connection or an error answer becomes a CliError with the gateway's message. */
export async function gatewayGet(config: Config, path: string, init?: RequestInit): Promise<Response> {
  const url = `${gatewayUrl(config)}${path}`;
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new CliError(`cannot reach the gateway at ${gatewayUrl(config)} (is 'pnpm start' running?): ${(err as Error).message}`, 1, { cause: err });
  }
  if (!res.ok && res.status !== 206) {
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw new CliError(`${res.status} ${message.trim()}`);
  }
  return res;
}
