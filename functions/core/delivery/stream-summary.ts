/** What a committed batch delivered for each source stream: the per-stream figures of its metrics. */
import type { DeliveryItem, OutputObject } from "./types.ts";

export interface StreamDelivery {
  /** Rows written to data files. */
  readonly delivered: number;
  /** Data files holding at least one of the stream's rows. */
  readonly files: number;
  /** The stream's earliest event time in the batch's data files (epoch ms), for its lag. */
  readonly oldestEventMs?: number;
}

/** Per stream, from the data objects written (error objects and objects without items are skipped). */
export function deliveriesByStream(
  objects: readonly (OutputObject & { readonly items?: readonly DeliveryItem[] })[],
): Record<string, StreamDelivery> {
  const by: Record<string, { delivered: number; files: number; oldestEventMs: number }> = {};
  for (const o of objects) {
    if (!o.key.endsWith(".parquet") || o.items === undefined) continue;
    const inFile = new Set<string>();
    for (const item of o.items) {
      const stream = item.envelope.stream;
      let s = by[stream];
      if (s === undefined) {
        s = { delivered: 0, files: 0, oldestEventMs: Number.POSITIVE_INFINITY };
        by[stream] = s;
      }
      s.delivered++;
      const t = Date.parse(item.envelope.ts);
      if (t < s.oldestEventMs) s.oldestEventMs = t;
      inFile.add(stream);
    }
    for (const stream of inFile) by[stream]!.files++;
  }
  const out: Record<string, StreamDelivery> = {};
  for (const [stream, s] of Object.entries(by)) {
    out[stream] = {
      delivered: s.delivered,
      files: s.files,
      ...(Number.isFinite(s.oldestEventMs) ? { oldestEventMs: s.oldestEventMs } : {}),
    };
  }
  return out;
}
