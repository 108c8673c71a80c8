/**
 * Parse a PSK file as GnuTLS's psktool writes it and nbdkit (`--tls-psk`) and QEMU (`tls-creds-psk`) read it: one
 * `identity:hexkey` line per client. Blank lines are skipped. Throws a RangeError naming the line (never the key) when
 * a line is malformed or an identity repeats.
 */
export function parsePskFile(text: string, source = 'PSK file'): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const colon = line.lastIndexOf(':');
    const identity = colon > 0 ? line.slice(0, colon) : '';
    const hex = line.slice(colon + 1);
    if (identity === '' || !/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
      throw new RangeError(`${source}, line ${i + 1}: expected identity:hexkey (as psktool writes it)`);
    }
    if (keys.has(identity)) throw new RangeError(`${source}, line ${i + 1}: identity '${identity}' appears twice`);
    keys.set(identity, Buffer.from(hex, 'hex'));
  });
  if (keys.size === 0) throw new RangeError(`${source} holds no keys`);
  return keys;
}
