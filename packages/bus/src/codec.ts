/** Encode a value as a JSON message payload. */
export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}

/** Decode a JSON message payload; throws a clear error for anything else. */
export function decodeJson<T>(data: Uint8Array): T {
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as T;
  } catch (err) {
    throw new Error(`message is not JSON (${data.byteLength} bytes)`, { cause: err });
  }
}
