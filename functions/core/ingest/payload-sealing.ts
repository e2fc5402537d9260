/**
 * Payload encryption at ingest, for streams with `encryption: payload`: the stream's data key for
 * one request (from the container's cache, or KMS), and the sealer each schema version's envelopes
 * are encoded with. Validation has already run on the plaintext; only the encoding changes.
 */
import { DataKeyUnavailable } from "../crypto/errors.ts";
import type { DataKeyCache } from "../crypto/key-cache.ts";
import { payloadSealer } from "../crypto/payload-cipher.ts";
import type { SealPayload } from "../crypto/types.ts";
import type { Envelope } from "../envelope.ts";
import type { ErrorDetail } from "../errors.ts";
import type { StreamRuntime } from "../runtime-config.ts";

export type PayloadSealing =
  | { readonly sealFor: (schema: Envelope["schema"]) => SealPayload; readonly error?: undefined }
  /** No data key: every record that would have been put is refused with this (503, retry later). */
  | { readonly error: ErrorDetail; readonly sealFor?: undefined };

/** The sealing of a request of `records` records, or undefined when the stream does not encrypt. */
export async function payloadSealing(
  keys: DataKeyCache | undefined,
  stream: StreamRuntime,
  records: number,
): Promise<PayloadSealing | undefined> {
  if (stream.encryption !== "payload") return undefined;
  if (keys === undefined) throw new Error(`stream ${stream.name} encrypts payloads, but ingest has no KMS`);
  try {
    const key = await keys.reserve(stream.name, records);
    return { sealFor: (schema) => payloadSealer(key, stream.name, schema) };
  } catch (err) {
    const kms = err instanceof DataKeyUnavailable ? err.kmsError : ((err as Error).name ?? "Error");
    // Never a record's fault: the producer gets 503 and retries; nothing goes out in the clear.
    return {
      error: {
        code: "UNAVAILABLE",
        message: `payload encryption is unavailable: KMS could not give a data key (${kms})`,
      },
    };
  }
}
