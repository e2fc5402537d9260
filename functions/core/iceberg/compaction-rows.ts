/**
 * Compaction's way back from a Parquet row to what the batcher encoded: the envelope fields and
 * the payload's JSON text, so the rewritten file goes through the same encoder (and comes out
 * with the same columns, types, field ids and `_extra`) as the files it replaces. hyparquet reads
 * the rows; its parsers are set so that nothing is lost on the way: timestamps to the
 * microsecond as RFC 3339 text, dates as `YYYY-MM-DD`, INT64 as bigint written back as digits,
 * JSON-text columns spliced in as the JSON they hold.
 */
import type { ParquetParsers } from "hyparquet";
import type { ColumnType, CompiledPlan, FieldSpec } from "../parquet/columns.ts";
import type { ParquetRow } from "../parquet/index.ts";

function isoMicros(micros: bigint): string {
  let ms = micros / 1000n;
  let rest = micros % 1000n;
  if (rest < 0n) {
    rest += 1000n;
    ms -= 1n;
  }
  const iso = new Date(Number(ms)).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 23)}${String(rest).padStart(3, "0")}Z`;
}

/** hyparquet parsers that keep every value exactly as the encoder reads it back. */
export const EXACT_PARSERS: Partial<ParquetParsers> = {
  timestampFromMicroseconds: isoMicros,
  timestampFromMilliseconds: (ms: bigint) => isoMicros(ms * 1000n),
  dateFromDays: (days: number) => new Date(days * 86_400_000).toISOString().slice(0, 10),
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** JSON text of a value the `_extra` overlay holds (untyped: as JSON.parse read it). */
const untyped = (v: unknown) => JSON.stringify(v);

function emit(v: unknown, t: ColumnType, extra: unknown): string {
  switch (t.kind) {
    case "json":
      // The column holds the value's JSON text: splice it in as JSON.
      return String(v);
    case "string":
    case "timestamp":
    case "date":
      return JSON.stringify(String(v));
    case "int64":
    case "int32":
    case "boolean":
      return String(v);
    case "double":
      return JSON.stringify(Number(v));
    case "list": {
      const items = v as unknown[];
      const extras = Array.isArray(extra) ? extra : [];
      return `[${items.map((x, i) => (x === null || x === undefined ? "null" : emit(x, t.item, extras[i]))).join(",")}]`;
    }
    case "struct":
      return emitObject(v as Json, t.fields, extra);
  }
}

/**
 * An object's JSON text. The keys the `_extra` overlay mentions come first, in its order, so the
 * encoder meets the undeclared fields in the order it first met them and writes the same `_extra`.
 */
function emitObject(v: Json, fields: readonly FieldSpec[], extra: unknown): string {
  const overlay = isObject(extra) ? extra : undefined;
  const byName = new Map(fields.map((f) => [f.name, f]));
  const names = [...new Set([...Object.keys(overlay ?? {}), ...fields.map((f) => f.name)])];
  const parts: string[] = [];
  for (const name of names) {
    const f = byName.get(name);
    if (!f) {
      parts.push(`${JSON.stringify(name)}:${untyped(overlay![name])}`);
      continue;
    }
    const value = Object.hasOwn(v, name) ? v[name] : undefined;
    // Absent and null read back the same (every column is optional): leave the field out.
    if (value === null || value === undefined) continue;
    parts.push(`${JSON.stringify(name)}:${emit(value, f.type, overlay?.[name])}`);
  }
  return `{${parts.join(",")}}`;
}

/** A row as hyparquet reads it back (object rows over the file's top-level columns). */
export type StoredRow = Record<string, unknown>;

/** The encoder's input for `row`, the payload as JSON text. */
export function encoderRow(plan: CompiledPlan, row: StoredRow): ParquetRow {
  const extraText = row._extra;
  const extra =
    typeof extraText === "string" && extraText !== "" ? (JSON.parse(extraText) as unknown) : undefined;
  return {
    id: String(row._id),
    eventTime: String(row._event_time),
    receiveTime: String(row._receive_time),
    schemaVersion: Number(row._schema_version),
    data: Buffer.from(emitObject(row, plan.fields, extra), "utf8"),
  };
}
