/** The per-stream figures of a committed batch: rows, files and the oldest event time of each stream. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { deliveriesByStream } from "../../functions/core/delivery/stream-summary.ts";
import type { DeliveryItem } from "../../functions/core/delivery/types.ts";

const item = (stream: string, ts: string) => ({ envelope: { stream, ts } }) as unknown as DeliveryItem;
const object = (key: string, items?: DeliveryItem[]) => ({
  key,
  body: new Uint8Array(0),
  contentType: "x",
  records: items?.length ?? 0,
  ...(items ? { items } : {}),
});

describe("deliveriesByStream", () => {
  test("counts each stream's rows and the data files holding them; error files count for nothing", () => {
    const by = deliveriesByStream([
      object("a/p-0.parquet", [
        item("orders", "2026-12-01T12:00:05Z"),
        item("refunds", "2026-12-01T12:00:09Z"),
      ]),
      object("a/p-1.parquet", [
        item("orders", "2026-12-01T12:00:01Z"),
        item("orders", "2026-12-01T12:00:07Z"),
      ]),
      object("errors/p/x.jsonl.gz", [item("orders", "2026-12-01T11:00:00Z")]),
    ]);
    assert.deepEqual(by, {
      orders: { delivered: 3, files: 2, oldestEventMs: Date.parse("2026-12-01T12:00:01Z") },
      refunds: { delivered: 1, files: 1, oldestEventMs: Date.parse("2026-12-01T12:00:09Z") },
    });
    assert.deepEqual(deliveriesByStream([object("a/p-2.parquet")]), {});
  });
});
