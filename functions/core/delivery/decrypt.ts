/**
 * The decrypt stage: opens the payloads that came encrypted (`enc`), so later stages see them as
 * if they had come as `data`. Each distinct data key of the batch is decrypted by KMS once (or
 * found in the container's cache). A payload that fails authentication is DECRYPT_FAILED and a
 * data key KMS refuses is KEY_UNAVAILABLE, both filed with KMS's or GCM's reason; KMS failing
 * to answer (throttling, 5xx, the network) is retried and then fails the batch, so the event
 * source retries it: it is never filed as the record's fault.
 */
import type { KeyObject } from "node:crypto";
import { type BackoffPolicy, isTransient, withRetries } from "../backoff.ts";
import { DataKeyUnavailable, PayloadDecryptFailed } from "../crypto/errors.ts";
import type { DataKeyOpener } from "../crypto/key-opener.ts";
import { openPayload, payloadAad } from "../crypto/payload-cipher.ts";
import type { DeliveryFailure, DeliveryItem } from "./types.ts";

/** KMS errors beyond the shared transient ones that say "try again". */
const KMS_TRANSIENT = new Set(["DependencyTimeoutException", "KeyUnavailableException"]);

function retryable(err: unknown): boolean {
  if (err instanceof DataKeyUnavailable) return false;
  return isTransient(err) || KMS_TRANSIENT.has((err as { name?: string }).name ?? "");
}

/** Data keys opened at once for one batch: a batch holds about one key per ingest container. */
const CONCURRENCY = 8;

export interface DecryptStage {
  /** Without it, every encrypted payload is KEY_UNAVAILABLE. */
  readonly keys: DataKeyOpener | undefined;
  readonly retry: BackoffPolicy;
}

export async function decryptItems(
  items: readonly DeliveryItem[],
  stage: DecryptStage,
): Promise<{ items: DeliveryItem[]; failures: DeliveryFailure[] }> {
  if (!items.some((i) => i.sealed !== undefined)) return { items: [...items], failures: [] };
  // stream -> kid -> the plaintext key, or why there is none. Two levels, so no key string is built per record.
  const opened = new Map<string, Map<string, KeyObject | DataKeyUnavailable | undefined>>();
  const queue: { stream: string; kid: string; into: Map<string, unknown> }[] = [];
  for (const i of items) {
    if (i.sealed === undefined) continue;
    let kids = opened.get(i.envelope.stream);
    if (kids === undefined) {
      kids = new Map();
      opened.set(i.envelope.stream, kids);
    }
    if (!kids.has(i.sealed.kid)) {
      kids.set(i.sealed.kid, undefined);
      queue.push({ stream: i.envelope.stream, kid: i.sealed.kid, into: kids });
    }
  }
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const { stream, kid, into } = next;
      const keys = stage.keys;
      if (keys === undefined) {
        into.set(kid, new DataKeyUnavailable("NoKms", "this batcher has no access to payload data keys"));
        continue;
      }
      try {
        into.set(kid, await withRetries(stage.retry, retryable, () => keys.open(stream, kid)));
      } catch (err) {
        // Anything but a refusal (KMS down past the retries) fails the batch: the event source retries it.
        if (!(err instanceof DataKeyUnavailable)) throw err;
        into.set(kid, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));

  const out: DeliveryItem[] = [];
  const failures: DeliveryFailure[] = [];
  for (const item of items) {
    const sealed = item.sealed;
    if (sealed === undefined) {
      out.push(item);
      continue;
    }
    const key = opened.get(item.envelope.stream)!.get(sealed.kid)!;
    if (key instanceof DataKeyUnavailable) {
      failures.push({ item, stage: "decrypt", code: key.code, message: key.message });
      continue;
    }
    try {
      const plaintext = openPayload(key, sealed, payloadAad(item.envelope));
      out.push({ ...item, original: plaintext, payload: plaintext });
    } catch (err) {
      if (!(err instanceof PayloadDecryptFailed)) throw err;
      failures.push({ item, stage: "decrypt", code: err.code, message: err.message });
    }
  }
  return { items: out, failures };
}
