import { MiB } from './units.js';

/** The network link a scenario ran on. */
export interface LinkSpec {
  /** One-way delay per direction, in ms. */
  latencyMs: number;
  /** Bandwidth cap of each connection, per direction. */
  bandwidthBytesPerSec: number;
  /** Extra delay before a new connection carries data (TCP handshake), in ms. */
  handshakeMs: number;
}

/** The default WAN-like link: 20 ms each way, 64 MiB/s per connection, one round trip to connect. */
export const DEFAULT_LINK: LinkSpec = { latencyMs: 20, bandwidthBytesPerSec: 64 * MiB, handshakeMs: 40 };

/** The link of things read from local disk or loopback without shaping. */
export const LOCAL_LINK = 'local (loopback / local disk, no shaping)';

/** Human-readable description of a link, e.g. `WAN 20 ms one-way (40 ms RTT), 64 MiB/s per connection`. */
export function describeLink(link: LinkSpec): string {
  const bw = link.bandwidthBytesPerSec / MiB;
  return `WAN ${link.latencyMs} ms one-way (${2 * link.latencyMs} ms RTT), ${Number.isInteger(bw) ? bw : bw.toFixed(1)} MiB/s per connection`;
}

/** Parse `--latency-ms`/`--bandwidth-mib` style overrides into a link. */
export function makeLink(latencyMs?: number, bandwidthMiBps?: number): LinkSpec {
  const latency = latencyMs ?? DEFAULT_LINK.latencyMs;
  return {
    latencyMs: latency,
    bandwidthBytesPerSec: (bandwidthMiBps ?? DEFAULT_LINK.bandwidthBytesPerSec / MiB) * MiB,
    handshakeMs: 2 * latency,
  };
}
