/**
 * Partition and roll: each record gets its key prefix from the sink's template; records that
 * share a prefix and a schema version form a partition, cut into files by the roll limits.
 */
import { MAX_KEY_BYTES, type PrefixTemplate, utf8Bytes } from "../prefix.ts";
import { NOT_JSON, parsePayload, payloadNotJson } from "./payload.ts";
import type { DeliveryFailure, DeliveryItem } from "./types.ts";

export interface RollPolicy {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

export interface FileBatch {
  readonly prefix: string;
  readonly subject: string;
  readonly version: number;
  /** Index of this file within its partition, for deterministic keys. */
  readonly n: number;
  readonly items: DeliveryItem[];
}

export function partitionItems(
  items: readonly DeliveryItem[],
  prefixOf: PrefixTemplate,
  pipeline: string,
  roll: RollPolicy,
  /** The schema every file is written with; each record's own when absent. */
  outputSchema?: { readonly subject: string; readonly version: number },
  /** The longest prefix whose keys stay within S3's limit once the file name is added. */
  maxPrefixBytes = MAX_KEY_BYTES - 256,
): { files: FileBatch[]; failures: DeliveryFailure[] } {
  const failures: DeliveryFailure[] = [];
  const groups = new Map<
    string,
    { prefix: string; subject: string; version: number; items: DeliveryItem[] }
  >();
  for (const item of items) {
    const env = item.envelope;
    // Parsed only for `{field:...}` templates, and then dropped: the encoder reads the text.
    const data = prefixOf.readsData ? parsePayload(item.payload) : undefined;
    if (data === NOT_JSON) {
      failures.push(payloadNotJson(item));
      continue;
    }
    const prefix = prefixOf({
      stream: env.stream,
      pipeline,
      eventTimeMs: Date.parse(env.ts),
      data,
      ...(item.partitionKeys ? { partitionKeys: item.partitionKeys } : {}),
    });
    if (!prefix.ok) {
      failures.push({ item, stage: "partition", code: prefix.code, message: prefix.message });
      continue;
    }
    const bytes = utf8Bytes(prefix.prefix);
    if (bytes > maxPrefixBytes) {
      failures.push({
        item,
        stage: "partition",
        code: "PREFIX_VALUE_INVALID",
        message: `the prefix is ${bytes} bytes; with the file name the key would pass S3's ${MAX_KEY_BYTES}-byte limit (at most ${maxPrefixBytes} for the prefix)`,
      });
      continue;
    }
    const subject = outputSchema?.subject ?? env.schema.name;
    const version = outputSchema?.version ?? env.schema.version;
    const groupKey = `${prefix.prefix}\u0000${subject}\u0000${version}`;
    let group = groups.get(groupKey);
    if (!group) {
      group = { prefix: prefix.prefix, subject, version, items: [] };
      groups.set(groupKey, group);
    }
    group.items.push(item);
  }

  const files: FileBatch[] = [];
  const fileIndex = new Map<string, number>();
  for (const group of groups.values()) {
    let current: DeliveryItem[] = [];
    let bytes = 0;
    const flush = () => {
      const n = fileIndex.get(group.prefix) ?? 0;
      fileIndex.set(group.prefix, n + 1);
      files.push({ prefix: group.prefix, subject: group.subject, version: group.version, n, items: current });
      current = [];
      bytes = 0;
    };
    for (const item of group.items) {
      if (
        current.length > 0 &&
        (current.length >= roll.maxRecords || bytes + item.raw.byteLength > roll.maxBytes)
      )
        flush();
      current.push(item);
      bytes += item.raw.byteLength;
    }
    if (current.length > 0) flush();
  }
  return { files, failures };
}
