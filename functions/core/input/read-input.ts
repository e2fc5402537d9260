/**
 * What `sluice send` and import jobs read: NDJSON, a JSON array, CSV (cells typed by the stream's JSON Schema) or
 * Parquet, into records numbered by line (NDJSON, CSV) or position (array, Parquet). A line that
 * cannot be read is a problem of its own; the records beside it are still sent.
 */
import { parse as parseCsv } from "csv-parse/sync";
import { parquetReadObjects } from "hyparquet";

export type InputFormat = "ndjson" | "json" | "csv" | "parquet";
export const INPUT_FORMATS: readonly InputFormat[] = ["ndjson", "json", "csv", "parquet"];

export interface InputRecord {
  /** 1-based line (NDJSON, CSV) or position (JSON array, Parquet): with the file, the record's identity. */
  readonly ordinal: number;
  readonly data: unknown;
}

export interface InputProblem {
  readonly ordinal: number;
  readonly code: string;
  readonly message: string;
}

export interface ParsedInput {
  readonly records: InputRecord[];
  readonly problems: InputProblem[];
}

/** The format a file's name says, else undefined (stdin, unknown extensions). */
export function formatFromName(file: string): InputFormat | undefined {
  const lower = file.toLowerCase();
  if (/\.(ndjson|jsonl)$/.test(lower)) return "ndjson";
  if (lower.endsWith(".json")) return "json";
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".parquet")) return "parquet";
  return undefined;
}

/** For a nameless input: Parquet by its magic, a JSON array by its first character, else NDJSON. */
export function sniffFormat(bytes: Buffer): InputFormat {
  if (bytes.subarray(0, 4).toString("latin1") === "PAR1") return "parquet";
  const first = bytes.toString("utf8", 0, Math.min(bytes.length, 64)).trimStart()[0];
  return first === "[" ? "json" : "ndjson";
}

/** JSON Schema `type` of each top-level property, for typing CSV cells. */
export type ColumnTypes = ReadonlyMap<string, readonly string[]>;

export function columnTypes(schema: unknown): ColumnTypes {
  const types = new Map<string, string[]>();
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | null)?.properties;
  for (const [name, prop] of Object.entries(properties ?? {})) {
    const t = prop?.type;
    types.set(
      name,
      Array.isArray(t)
        ? t.filter((x): x is string => typeof x === "string")
        : typeof t === "string"
          ? [t]
          : [],
    );
  }
  return types;
}

export async function readInput(
  bytes: Buffer,
  format: InputFormat,
  types?: ColumnTypes,
): Promise<ParsedInput> {
  switch (format) {
    case "ndjson":
      return readNdjson(bytes.toString("utf8"));
    case "json":
      return readJsonArray(bytes.toString("utf8"));
    case "csv":
      return readCsv(bytes, types ?? new Map());
    case "parquet":
      return readParquet(bytes);
  }
}

function readNdjson(text: string): ParsedInput {
  const records: InputRecord[] = [];
  const problems: InputProblem[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    try {
      records.push({ ordinal: i + 1, data: JSON.parse(line) });
    } catch (err) {
      problems.push({ ordinal: i + 1, code: "INVALID_JSON", message: (err as Error).message });
    }
  });
  return { records, problems };
}

function readJsonArray(text: string): ParsedInput {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`not a JSON array: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw new InputError("a .json input is one JSON array of records");
  return { records: value.map((data, i) => ({ ordinal: i + 1, data })), problems: [] };
}

function readCsv(bytes: Buffer, types: ColumnTypes): ParsedInput {
  const problems: InputProblem[] = [];
  const rows = parseCsv(bytes, {
    columns: true,
    info: true,
    bom: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (err: { message: string; lines?: number } | undefined) => {
      if (err) problems.push({ ordinal: err.lines ?? 0, code: "INVALID_CSV", message: err.message });
    },
  }) as { record: Record<string, string>; info: { lines: number } }[];
  const records = rows.map(({ record, info }) => ({ ordinal: info.lines, data: typedRow(record, types) }));
  return { records, problems };
}

/**
 * Cells become what the schema says the property is. A cell that does not convert stays the
 * string it was, so the API rejects the record with the schema's own reason and path.
 */
function typedRow(row: Record<string, string>, types: ColumnTypes): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, cell] of Object.entries(row)) {
    const allowed = types.get(name) ?? [];
    if (cell === "") {
      if (allowed.includes("null")) out[name] = null;
      else if (allowed.length === 0 || allowed.includes("string")) out[name] = cell;
      continue; // an empty number, boolean or object is an absent value
    }
    out[name] = typedCell(cell, allowed);
  }
  return out;
}

function typedCell(cell: string, allowed: readonly string[]): unknown {
  if (allowed.includes("integer") || allowed.includes("number")) {
    const n = Number(cell);
    if (Number.isFinite(n) && cell.trim() !== "") return n;
  }
  if (allowed.includes("boolean")) {
    if (/^(true|1)$/i.test(cell)) return true;
    if (/^(false|0)$/i.test(cell)) return false;
  }
  if (allowed.includes("object") || allowed.includes("array")) {
    try {
      return JSON.parse(cell);
    } catch {
      return cell;
    }
  }
  return cell;
}

async function readParquet(bytes: Buffer): Promise<ParsedInput> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = await parquetReadObjects({ file });
  return { records: rows.map((row, i) => ({ ordinal: i + 1, data: jsonSafe(row) })), problems: [] };
}

/** Parquet's int64 as a number when exact (else its digits), timestamps as ISO-8601. */
function jsonSafe(value: unknown): unknown {
  if (typeof value === "bigint")
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

export class InputError extends Error {
  override readonly name = "InputError";
}
