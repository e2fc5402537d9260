/** The plain data of payload encryption (DESIGN.md "Contracts": `enc` in place of `data`). */
import type { KeyObject } from "node:crypto";

/**
 * What an envelope carries in place of `data` when its stream encrypts payloads. Every member
 * is base64; together with the envelope's stream, schema and id (the AAD) it is all a reader
 * with kms:Decrypt on the data key needs.
 */
export interface SealedPayload {
  /**
   * The data key as KMS encrypted it (GenerateDataKey's CiphertextBlob), under the encryption
   * context of the app and stream: carried inline so no other store is needed to read a record.
   */
  readonly kid: string;
  /** A fresh random 96-bit IV for this record. */
  readonly iv: string;
  /** The payload's JSON text (exactly what `data` would have been), AES-256-GCM encrypted. */
  readonly ct: string;
  /** The 128-bit GCM authentication tag. */
  readonly tag: string;
}

/** The envelope fields the additional authenticated data binds a payload to. */
export interface SealedRecordHead {
  readonly stream: string;
  readonly schema: { readonly name: string; readonly version: number };
  readonly id: string;
}

/** A plaintext data key and the ciphertext that identifies it (`kid`). */
export interface DataKey {
  readonly kid: string;
  readonly key: KeyObject;
}

/** How long and for how many records one data key is used before a new one is generated. */
export interface DataKeyBounds {
  readonly maxAgeMs: number;
  readonly maxRecords: number;
}

/** Encrypts one record's payload text under `id`; returns the JSON text of its `enc`. */
export type SealPayload = (payloadJson: string, id: string) => string;
