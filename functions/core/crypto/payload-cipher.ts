/**
 * AES-256-GCM over one record's payload text, bound to its envelope by the AAD. The AAD is the
 * UTF-8 of the JSON array `["sluice/enc/v1", stream, schema name, schema version, record id]`
 * (JSON.stringify of exactly those values, no spaces): moving a ciphertext to another record,
 * stream or schema version fails authentication, while the rest of the envelope stays readable
 * for filter criteria.
 */
import { createCipheriv, createDecipheriv, type KeyObject, randomFillSync } from "node:crypto";
import { PayloadDecryptFailed } from "./errors.ts";
import type { DataKey, SealedPayload, SealedRecordHead, SealPayload } from "./types.ts";

export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;
const AAD_LABEL = "sluice/enc/v1";

/** The AAD's text up to the record id, the same for every record of a stream and schema version. */
function aadPrefix(stream: string, schema: SealedRecordHead["schema"]): string {
  const head = JSON.stringify([AAD_LABEL, stream, schema.name, schema.version]);
  return `${head.slice(0, -1)},`;
}

/** The AAD of a record, from the envelope fields it binds. */
export function payloadAad(head: SealedRecordHead): Buffer {
  return Buffer.from(`${aadPrefix(head.stream, head.schema)}${JSON.stringify(head.id)}]`, "utf8");
}

/**
 * IVs come from a pooled CSPRNG buffer: one randomFillSync per 1,024 records instead of one call
 * each. A slice is read (into the cipher and its base64) before the next one is taken, and every
 * byte is used once, so no two records share an IV; at the cache's 100,000 records per key the
 * chance of a random 96-bit collision is about 2^-64.
 */
const ivPool = Buffer.allocUnsafe(IV_BYTES * 1024);
let ivAt = ivPool.length;

function freshIv(): Buffer {
  if (ivAt + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool);
    ivAt = 0;
  }
  const iv = ivPool.subarray(ivAt, ivAt + IV_BYTES);
  ivAt += IV_BYTES;
  return iv;
}

/** The base64 IV, ciphertext and tag of `plaintext` under `key`, with a fresh IV. */
function encrypt(key: KeyObject, plaintext: string | Uint8Array, aad: Uint8Array): [string, string, string] {
  const iv = freshIv();
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = typeof plaintext === "string" ? cipher.update(plaintext, "utf8") : cipher.update(plaintext);
  cipher.final();
  return [iv.toString("base64"), ct.toString("base64"), cipher.getAuthTag().toString("base64")];
}

/** Encrypts `plaintext` (text as UTF-8, or bytes) under `key` with a fresh IV. */
export function sealPayload(key: DataKey, plaintext: string | Uint8Array, aad: Uint8Array): SealedPayload {
  const [iv, ct, tag] = encrypt(key.key, plaintext, aad);
  return { kid: key.kid, iv, ct, tag };
}

/**
 * The sealer ingest encodes a stream's envelopes with: the JSON text of `enc` for each record,
 * with the key id and the AAD's shared part written once.
 */
export function payloadSealer(key: DataKey, stream: string, schema: SealedRecordHead["schema"]): SealPayload {
  const prefix = aadPrefix(stream, schema);
  const open = `{"kid":${JSON.stringify(key.kid)},"iv":"`;
  return (payloadJson, id) => {
    const [iv, ct, tag] = encrypt(
      key.key,
      payloadJson,
      Buffer.from(`${prefix}${JSON.stringify(id)}]`, "utf8"),
    );
    return `${open}${iv}","ct":"${ct}","tag":"${tag}"}`;
  };
}

/** Decodes a base64 member of `enc`, checking its length where it has one. */
function member(sealed: SealedPayload, name: "iv" | "ct" | "tag", bytes?: number): Buffer {
  const value = Buffer.from(sealed[name], "base64");
  if (bytes !== undefined && value.length !== bytes) {
    throw new PayloadDecryptFailed(`malformed enc: ${name} is ${value.length} bytes, not ${bytes}`);
  }
  return value;
}

/**
 * Decrypts and authenticates a payload; throws `PayloadDecryptFailed` when the ciphertext, tag,
 * IV or AAD is not what was encrypted.
 */
export function openPayload(key: KeyObject, sealed: SealedPayload, aad: Uint8Array): Buffer {
  const iv = member(sealed, "iv", IV_BYTES);
  const tag = member(sealed, "tag", TAG_BYTES);
  const ct = member(sealed, "ct");
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const plaintext = decipher.update(ct);
  try {
    decipher.final();
  } catch {
    throw new PayloadDecryptFailed(
      "authentication tag mismatch: the ciphertext, tag or IV was changed, or the envelope's stream, schema or record id is not the one it was encrypted for",
    );
  }
  return plaintext;
}
