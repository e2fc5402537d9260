/**
 * Bytes handed around as Uint8Array (Kinesis records, payload views) are usually Buffers already;
 * where one is not, a Buffer view of the same memory gives Buffer's native string decoding.
 */

/** `bytes` as a Buffer over the same memory: itself when it is one, a view otherwise, never a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
