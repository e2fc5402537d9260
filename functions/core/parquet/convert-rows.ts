/** One batch of rows to columns: one pass takes the values out of the rows, then each column is built. */

import { asBuffer } from "../bytes.ts";
import { buildColumn, buildList, fieldIndex, spreadFields } from "./build-nested.ts";
import {
  buildString,
  buildStringDictionary,
  type SpanSource,
  spanString,
  toJsonText,
} from "./build-strings.ts";
import { buildDate, buildTimestamp, type KnownTimes } from "./build-times.ts";
import { lowCardinality, settingsFor } from "./column-settings.ts";
import { type ColumnType, type CompiledPlan, EXTRA_COLUMN } from "./columns.ts";
import type { ConversionError, ParquetRow } from "./encode-types.ts";
import { setIn } from "./extra-overlay.ts";
import { JsonRecordReader, keptNumbers, type Lists, SPAN, type Spans } from "./json-reader.ts";
import { arena, valueArrays } from "./memory.ts";
import { childSink, isObj, jsonType, type Obj, type Sink } from "./sink.ts";
import type { ColumnData, ColumnInput } from "./writer/types.ts";

export interface Built {
  columns: ColumnInput[];
  rejected: Map<number, ConversionError>;
}

/**
 * A top-level string column read from texts: kept as spans when it will be written PLAIN (ids,
 * free text), made into strings when it will get a dictionary, whose lookups need them.
 */
function buildSpanned(values: unknown[], sink: Sink, from: SpanSource): ColumnData {
  const low = lowCardinality(values, from);
  if (low) {
    for (let i = 0; i < values.length; i++) if (values[i] === SPAN) values[i] = spanString(from, i);
  }
  return (low && buildStringDictionary(values, sink)) || buildString(values, sink, from);
}

/** One reader per plan: it holds the plan's field names as bytes. */
const readers = new WeakMap<CompiledPlan, JsonRecordReader>();

function readerFor(plan: CompiledPlan, index: ReadonlyMap<string, number>): JsonRecordReader {
  let reader = readers.get(plan);
  if (reader === undefined) {
    reader = new JsonRecordReader(plan.fields, index);
    readers.set(plan, reader);
  }
  return reader;
}

/**
 * Where the text reader puts what it leaves in the records' texts: spans for fields whose values
 * are strings, gathered items for array fields (arena and value-array memory, kept per batch).
 */
function readerSlots(reader: JsonRecordReader, fields: number, n: number): (Spans | undefined)[] {
  return Array.from({ length: fields }, (_, k) => {
    if (reader.spans(k)) return { start: arena.int32(n), end: arena.int32(n) };
    if (reader.lists(k)) {
      return { start: arena.int32(n), end: arena.int32(n), items: valueArrays.takeAny(), count: 0 };
    }
    return undefined;
  });
}

/**
 * A top-level field's column where it needs more than `buildColumn`: a date-time that may repeat
 * the event time, or values the text reader left as spans (`from`) or gathered lists (`slot`).
 */
function buildField(
  type: ColumnType,
  values: unknown[],
  sink: Sink,
  known: KnownTimes,
  slot: Spans | undefined,
  from: SpanSource | undefined,
): ColumnData | undefined {
  switch (type.kind) {
    case "timestamp":
      return buildTimestamp(values, sink, known, from);
    case "date":
      return from && buildDate(values, sink, from);
    case "list":
      return slot && buildList(type.item, values, sink, slot as Lists);
    case "string":
      return from && buildSpanned(values, sink, from);
    default:
      return undefined;
  }
}

export function buildBatch(plan: CompiledPlan, rows: readonly ParquetRow[]): Built {
  try {
    return convertRows(plan, rows);
  } finally {
    // The columns are built; the values gathered for them are no longer needed.
    valueArrays.giveBack();
  }
}

function convertRows(plan: CompiledPlan, rows: readonly ParquetRow[]): Built {
  const n = rows.length;
  arena.reset();
  const rejected = new Map<number, ConversionError>();
  let overlays: (Obj | undefined)[] | undefined;
  const sink: Sink = {
    error: (index, code, path, message) => {
      if (!rejected.has(index)) rejected.set(index, { index, code, path, message });
    },
    extra: (pos, path, value) => {
      overlays ??= valueArrays.take(n) as (Obj | undefined)[];
      let root = overlays[pos];
      if (root === undefined) {
        root = {};
        overlays[pos] = root;
      }
      setIn(root, path, value);
    },
  };

  // One pass over the rows takes every value out of them; the columns are then built one by one.
  const ids = valueArrays.take(n);
  const eventTimes = valueArrays.take(n);
  const receiveTimes = valueArrays.take(n);
  const versions = valueArrays.take(n);
  const fields = plan.fields;
  const index = fieldIndex(fields);
  const fieldValues = fields.map(() => valueArrays.take(n));
  let reader: JsonRecordReader | undefined;
  let spans: (Spans | undefined)[] | undefined;
  const extra = (pos: number, key: string, value: unknown): void => sink.extra(pos, [key], value);
  /** Records that are not objects (or, given as text, not JSON), reported after the envelope. */
  let badRecords: ConversionError[] | undefined;
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    ids[i] = row.id;
    eventTimes[i] = row.eventTime;
    receiveTimes[i] = row.receiveTime;
    versions[i] = row.schemaVersion;
    let d: unknown = row.data;
    if (d instanceof Uint8Array) {
      if (reader === undefined) {
        reader = readerFor(plan, index);
        reader.begin();
      }
      spans ??= readerSlots(reader, fields.length, n);
      if (reader.read(d, i, fieldValues, spans, extra, row.eventTime)) continue;
      for (const values of fieldValues) values[i] = undefined;
      try {
        const text = asBuffer(d);
        d = JSON.parse(text.toString("utf8"));
        // Integer columns need the digits JSON.parse rounded (see number-text.ts).
        if (isObj(d) && reader.roundsIntegers(d)) d = keptNumbers(text, 0, d);
      } catch {
        badRecords ??= [];
        badRecords.push({
          index: i,
          code: "INVALID_JSON",
          path: "",
          message: "the record is not valid JSON",
        });
        continue;
      }
    }
    if (isObj(d)) {
      spreadFields(d, i, fields, index, fieldValues, sink);
    } else {
      badRecords ??= [];
      badRecords.push({
        index: i,
        code: "TYPE_MISMATCH",
        path: "",
        message: `expected the record to be an object, got ${jsonType(d)}`,
      });
    }
  }

  const columns: ColumnInput[] = [];
  const add = (
    name: string,
    type: ColumnType,
    values: readonly unknown[],
    data?: ColumnData,
    from?: SpanSource,
  ): void => {
    data ??= buildColumn(type, values, childSink(sink, name));
    columns.push({ name, data, ...settingsFor(type, values, data, from) });
  };
  add("_id", { kind: "string" }, ids);
  const known: KnownTimes = {
    strings: eventTimes,
    column: buildTimestamp(eventTimes, childSink(sink, "_event_time")),
  };
  add("_event_time", { kind: "timestamp" }, eventTimes, known.column);
  add("_receive_time", { kind: "timestamp" }, receiveTimes);
  add("_schema_version", { kind: "int32" }, versions);
  // Reported after the envelope columns, whose errors come first.
  for (const e of badRecords ?? []) sink.error(e.index, e.code, e.path, e.message);
  for (let k = 0; k < fields.length; k++) {
    const f = fields[k]!;
    const values = fieldValues[k]!;
    const slot = spans?.[k];
    const from = slot && { spans: slot, rows };
    add(f.name, f.type, values, buildField(f.type, values, childSink(sink, f.name), known, slot, from), from);
  }

  const extras = valueArrays.take(n);
  if (overlays !== undefined) {
    for (let i = 0; i < n; i++) {
      const o = overlays[i];
      if (o === undefined) continue;
      extras[i] = toJsonText(o);
      if (extras[i] === undefined) {
        sink.error(i, "TYPE_MISMATCH", "", "undeclared fields hold a value JSON cannot represent");
      }
    }
  }
  add(EXTRA_COLUMN, { kind: "string" }, extras);

  return { columns, rejected };
}
