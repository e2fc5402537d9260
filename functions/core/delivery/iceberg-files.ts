/**
 * What an Iceberg sink's committer needs about the data files of a batch, gathered before the
 * checkpoint commit that records them (see iceberg/pending-files.ts).
 */
import { fileStats } from "../iceberg/file-stats.ts";
import { type PartitionTerm, partitionValues } from "../iceberg/partition-spec.ts";
import type { PendingFile } from "../iceberg/pending-files.ts";
import { NOT_JSON, parsePayload } from "./payload.ts";
import type { DeliveryItem, OutputObject } from "./types.ts";

export function pendingFileOf(
  obj: OutputObject & { readonly items: readonly DeliveryItem[] },
  terms: readonly PartitionTerm[],
): PendingFile {
  const first = obj.items[0]!;
  const identity = terms.some((t) => t.transform === "identity");
  const data = identity ? parsePayload(first.payload) : undefined;
  return {
    key: obj.key,
    size: obj.body.byteLength,
    records: obj.records,
    partition: partitionValues(terms, {
      eventTimeMs: Date.parse(first.envelope.ts),
      ...(data === undefined || data === NOT_JSON ? {} : { data }),
    }),
    stats: fileStats(obj.body),
  };
}
