/** List and struct columns, and the per-type dispatch (buildColumn) they recurse through. */

import { buildBoolean, buildDouble, buildInt32, buildInt64 } from "./build-numbers.ts";
import { buildJson, buildString, buildStringDictionary } from "./build-strings.ts";
import { buildDate, buildTimestamp } from "./build-times.ts";
import { lowCardinality } from "./column-settings.ts";
import type { ColumnType, FieldSpec } from "./columns.ts";
import { LIST, type Lists } from "./json-reader.ts";
import { arena, valueArrays } from "./memory.ts";
import { childSink, isObj, mismatch, type Obj, type Sink } from "./sink.ts";
import type { ColumnData } from "./writer/types.ts";

/** Index of the list whose items include flattened position `pos` (offsets are non-decreasing). */
function ownerOf(offsets: Int32Array, pos: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function buildList(
  item: ColumnType,
  values: readonly unknown[],
  sink: Sink,
  lists?: Lists,
): ColumnData {
  const n = values.length;
  const offsets = arena.int32(n + 1);
  const validity = arena.bitmap(n);
  // Items are gathered in the pass that finds the lists (a second pass would fetch every list
  // from memory again), into an array that grows as they come.
  const items = valueArrays.takeAny();
  let nulls = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === LIST) {
      const from = lists!.start[i]!;
      const len = lists!.end[i]! - from;
      const gathered = lists!.items;
      for (let j = 0; j < len; j++) items[total + j] = gathered[from + j];
      total += len;
      validity[i >> 3]! |= 1 << (i & 7);
    } else if (Array.isArray(v)) {
      const len = v.length;
      for (let j = 0; j < len; j++) items[total + j] = v[j];
      total += len;
      validity[i >> 3]! |= 1 << (i & 7);
    } else {
      if (v != null) mismatch(sink, i, "array", v);
      nulls++;
    }
    offsets[i + 1] = total;
  }
  items.length = total;
  const itemSink: Sink = {
    error: (pos, code, path, message) => {
      const row = ownerOf(offsets, pos);
      sink.error(row, code, `/${pos - offsets[row]!}${path}`, message);
    },
    extra: (pos, path, value) => {
      const row = ownerOf(offsets, pos);
      sink.extra(row, [pos - offsets[row]!, ...path], value);
    },
  };
  return {
    kind: "list",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    offsets,
    item: buildColumn(item, items, itemSink),
  };
}

/** Position of each field name in `fields`, per struct type (and the top level). */
const fieldIndexes = new WeakMap<readonly FieldSpec[], ReadonlyMap<string, number>>();

export function fieldIndex(fields: readonly FieldSpec[]): ReadonlyMap<string, number> {
  let index = fieldIndexes.get(fields);
  if (index === undefined) {
    index = new Map(fields.map((f, k) => [f.name, k]));
    fieldIndexes.set(fields, index);
  }
  return index;
}

/**
 * Spreads the keys of object `o` (at `pos`) over the value arrays of its declared fields and
 * reports the others as extras. One pass over each object's own keys, instead of a pass per field
 * plus one for extras: every pass over a batch's records costs memory traffic. Keys mostly come
 * in declaration order, so the next field is tried before the name lookup.
 */
export function spreadFields(
  o: Obj,
  pos: number,
  fields: readonly FieldSpec[],
  index: ReadonlyMap<string, number>,
  out: readonly unknown[][],
  sink: Sink,
): void {
  let next = 0;
  for (const key in o) {
    const v = o[key];
    const f = next < fields.length && fields[next]!.name === key ? next : (index.get(key) ?? -1);
    if (f >= 0) {
      out[f]![pos] = v;
      next = f + 1;
    } else if (v !== undefined) {
      // An undefined value cannot come from JSON and would serialize to nothing.
      sink.extra(pos, [key], v);
    }
  }
}

function buildStruct(fields: readonly FieldSpec[], values: readonly unknown[], sink: Sink): ColumnData {
  const n = values.length;
  const validity = arena.bitmap(n);
  const index = fieldIndex(fields);
  const fieldValues = fields.map(() => valueArrays.take(n));
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isObj(v)) {
      validity[i >> 3]! |= 1 << (i & 7);
      spreadFields(v, i, fields, index, fieldValues, sink);
    } else {
      if (v != null) mismatch(sink, i, "object", v);
      nulls++;
    }
  }
  return {
    kind: "struct",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    fields: fields.map((f, k) => ({
      name: f.name,
      data: buildColumn(f.type, fieldValues[k]!, childSink(sink, f.name)),
    })),
  };
}

export function buildColumn(type: ColumnType, values: readonly unknown[], sink: Sink): ColumnData {
  switch (type.kind) {
    case "string":
      return (lowCardinality(values) && buildStringDictionary(values, sink)) || buildString(values, sink);
    case "json":
      return buildJson(values, sink);
    case "timestamp":
      return buildTimestamp(values, sink);
    case "date":
      return buildDate(values, sink);
    case "int64":
      return buildInt64(values, sink);
    case "int32":
      return buildInt32(values, sink);
    case "double":
      return buildDouble(values, sink);
    case "boolean":
      return buildBoolean(values, sink);
    case "list":
      return buildList(type.item, values, sink);
    case "struct":
      return buildStruct(type.fields, values, sink);
  }
}
