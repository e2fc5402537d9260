/**
 * TEST INFRASTRUCTURE ONLY: the KMS emulator's ciphertext blobs, real AES-256-GCM under the
 * emulated key's material, with the encryption context bound in as AAD.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AwsJsonError } from "../aws-json-server.ts";

const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A KMS error: `{ "__type": name, "message": ... }`, HTTP 400 unless said. */
export class KmsError extends AwsJsonError {}

/** What sealing needs of a key. */
export interface BlobKey {
  readonly id: string;
  readonly material: Buffer;
}

export interface ParsedBlob {
  readonly keyId: string;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

/**
 * Blob layout: version(1) | keyIdLength(1) | keyId | iv(12) | tag(16) | ciphertext. The key id is
 * in the clear so Decrypt needs no KeyId (as with real KMS); it is also bound into the AAD.
 */
export function seal(key: BlobKey, plaintext: Buffer, context: Buffer): Buffer {
  const keyId = Buffer.from(key.id, "utf8");
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.material, iv);
  cipher.setAAD(Buffer.concat([keyId, context]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([
    Buffer.from([BLOB_VERSION, keyId.length]),
    keyId,
    iv,
    cipher.getAuthTag(),
    ciphertext,
  ]);
}

export function parseBlob(data: Buffer): ParsedBlob {
  const invalid = new KmsError("InvalidCiphertextException", "The ciphertext is invalid");
  if (data.length < 2 || data[0] !== BLOB_VERSION) throw invalid;
  const idLength = data[1] ?? 0;
  const ivStart = 2 + idLength;
  const tagStart = ivStart + IV_BYTES;
  const bodyStart = tagStart + TAG_BYTES;
  if (data.length < bodyStart) throw invalid;
  return {
    keyId: data.subarray(2, ivStart).toString("utf8"),
    iv: data.subarray(ivStart, tagStart),
    tag: data.subarray(tagStart, bodyStart),
    ciphertext: data.subarray(bodyStart),
  };
}

export function open(key: BlobKey, blob: ParsedBlob, context: Buffer): Buffer {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.material, blob.iv);
    decipher.setAAD(Buffer.concat([Buffer.from(key.id, "utf8"), context]));
    decipher.setAuthTag(blob.tag);
    return Buffer.concat([decipher.update(blob.ciphertext), decipher.final()]);
  } catch {
    // A wrong encryption context and a tampered blob look the same to GCM, and to KMS.
    throw new KmsError("InvalidCiphertextException", "The ciphertext or encryption context is invalid");
  }
}
