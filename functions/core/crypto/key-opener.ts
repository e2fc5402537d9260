/**
 * The batcher's data keys: each `kid` is decrypted by KMS (Decrypt, pinned to the app's key,
 * with the encryption context of the stream the envelope names) once, and the plaintext kept for
 * a bounded time and number of keys. Cached by stream and kid together: a kid KMS opened for one
 * stream is never used for an envelope naming another.
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { DecryptCommand, type KMSClient } from "@aws-sdk/client-kms";
import { payloadEncryptionContext } from "./context.ts";
import { DataKeyUnavailable, kmsFailure } from "./errors.ts";
import { KEY_BYTES } from "./payload-cipher.ts";

export interface DataKeyOpenerOptions {
  /** The only KMS key (id, ARN or alias) data keys may be under; Decrypt refuses others. */
  readonly keyId: string;
  /** The app, in the encryption context. */
  readonly app: string;
  /** How long a plaintext key is kept after KMS decrypted it. @default 300000 (5 minutes) */
  readonly maxAgeMs?: number;
  /** How many plaintext keys are kept; the oldest goes first. @default 1000 */
  readonly maxKeys?: number;
  /** Epoch milliseconds. @default Date.now */
  readonly clock?: () => number;
}

export class DataKeyOpener {
  private readonly keys = new Map<string, { readonly key: KeyObject; readonly openedMs: number }>();
  private readonly maxAgeMs: number;
  private readonly maxKeys: number;
  private readonly clock: () => number;
  /** Decrypt calls that answered, for tests and benchmarks. */
  decrypted = 0;

  constructor(
    private readonly kms: KMSClient,
    private readonly options: DataKeyOpenerOptions,
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
    this.maxKeys = options.maxKeys ?? 1000;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * The plaintext of `kid` for an envelope of `stream`. Throws `DataKeyUnavailable` when KMS
   * refuses (wrong context, disabled or foreign key, no permission, not a KMS blob) and the SDK's
   * own error when KMS could not answer, which is worth retrying.
   */
  async open(stream: string, kid: string): Promise<KeyObject> {
    const id = `${stream}\n${kid}`;
    const now = this.clock();
    const cached = this.keys.get(id);
    if (cached !== undefined && now - cached.openedMs < this.maxAgeMs) return cached.key;
    const blob = Buffer.from(kid, "base64");
    if (blob.length === 0) throw new DataKeyUnavailable("ValidationException", "enc.kid is empty");
    let plaintext: Uint8Array | undefined;
    try {
      const out = await this.kms.send(
        new DecryptCommand({
          CiphertextBlob: blob,
          KeyId: this.options.keyId,
          EncryptionContext: payloadEncryptionContext(this.options.app, stream),
        }),
      );
      plaintext = out.Plaintext;
    } catch (err) {
      throw kmsFailure(err, `the data key of stream ${stream}`);
    }
    if (plaintext?.length !== KEY_BYTES) {
      throw new DataKeyUnavailable("InvalidCiphertextException", "the data key is not a 256-bit key");
    }
    this.decrypted++;
    const material = Buffer.from(plaintext);
    const key = createSecretKey(material);
    material.fill(0);
    plaintext.fill(0);
    this.keys.delete(id);
    this.keys.set(id, { key, openedMs: now });
    // Map order is insertion order: the first entries are the oldest.
    for (const old of this.keys.keys()) {
      if (this.keys.size <= this.maxKeys) break;
      this.keys.delete(old);
    }
    return key;
  }
}
