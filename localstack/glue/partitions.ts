/** TEST INFRASTRUCTURE ONLY: a Glue table's stored partitions (BatchCreatePartition, GetPartitions). */
import type { JsonObject } from "../aws-json-server.ts";
import {
  defined,
  invalidInput,
  optionalBoolean,
  optionalObject,
  optionalString,
  page,
  partitionDefinition,
} from "./input.ts";

/** A table's partitions, keyed by the JSON of their values. */
export type PartitionStore = Map<string, JsonObject>;

export function partitionKey(values: unknown): string {
  return JSON.stringify(values);
}

/**
 * Stores each partition that can be stored and reports each one that cannot in `Errors` (wrong
 * number of values, already there), as Glue does; only a malformed request fails as a whole.
 * Returns whether anything was stored, so the caller knows to persist.
 */
export function createPartitions(
  partitions: PartitionStore,
  table: JsonObject,
  input: JsonObject,
): { output: JsonObject; changed: boolean } {
  const inputs = input["PartitionInputList"];
  if (!Array.isArray(inputs) || inputs.length < 1 || inputs.length > 100) {
    throw invalidInput("partitionInputList must hold between 1 and 100 partitions");
  }
  const keyCount = (table["PartitionKeys"] as unknown[] | undefined)?.length ?? 0;
  const parsed = inputs.map((entry: unknown, index) => {
    const path = `partitionInputList.${index + 1}.member`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw invalidInput(`${path} must be an object`);
    }
    return partitionDefinition(entry as JsonObject, path);
  });
  const errors: JsonObject[] = [];
  const now = Date.now() / 1000;
  for (const { values, fields } of parsed) {
    const key = partitionKey(values);
    const failure =
      values.length !== keyCount
        ? [
            "InvalidInputException",
            "The number of partition keys do not match the number of partition values",
          ]
        : partitions.has(key)
          ? ["AlreadyExistsException", "Partition already exists."]
          : undefined;
    if (failure) {
      errors.push({
        PartitionValues: values,
        ErrorDetail: { ErrorCode: failure[0], ErrorMessage: failure[1] },
      });
      continue;
    }
    partitions.set(key, {
      Values: values,
      DatabaseName: table["DatabaseName"],
      TableName: table["Name"],
      CreationTime: now,
      ...fields,
      CatalogId: table["CatalogId"],
    });
  }
  return { output: { Errors: errors }, changed: errors.length < parsed.length };
}

/**
 * The stored partitions, ordered by their values, with Segment and ExcludeColumnSchema applied.
 * Filtering by Expression is not implemented, so one is refused rather than ignored.
 */
export function listPartitions(partitions: PartitionStore, input: JsonObject): JsonObject {
  if (optionalString(input, "Expression", "expression", 2048) !== undefined) {
    throw invalidInput("This emulator does not filter partitions by Expression");
  }
  const segment = optionalObject(input, "Segment", "segment");
  const segmentNumber = Number(segment?.["SegmentNumber"] ?? 0);
  const totalSegments = Number(segment?.["TotalSegments"] ?? 1);
  if (!Number.isInteger(totalSegments) || totalSegments < 1 || totalSegments > 10) {
    throw invalidInput("segment.totalSegments must be between 1 and 10");
  }
  if (!Number.isInteger(segmentNumber) || segmentNumber < 0 || segmentNumber >= totalSegments) {
    throw invalidInput("segment.segmentNumber must be between 0 and totalSegments - 1");
  }
  const excludeColumns = optionalBoolean(input, "ExcludeColumnSchema", "excludeColumnSchema") === true;
  const all = [...partitions.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .filter((_, index) => index % totalSegments === segmentNumber);
  const { items, nextToken } = page(all, ([key]) => key, input, 1000);
  const listed = structuredClone(items.map(([, partition]) => partition));
  if (excludeColumns) {
    for (const partition of listed) {
      const descriptor = partition["StorageDescriptor"] as JsonObject | undefined;
      if (descriptor) delete descriptor["Columns"];
    }
  }
  return defined({ Partitions: listed, NextToken: nextToken });
}
