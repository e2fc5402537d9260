/**
 * Rows as the API answers them: JSON values (timestamps as RFC 3339 text, INT64 as numbers while
 * exact and as decimal strings beyond 2^53, bytes as base64), one record a line (NDJSON), or an
 * Arrow IPC stream built by apache-arrow from the same values.
 */
import { Table, tableFromJSON, tableToIPC } from "apache-arrow";
import type { LakeRow } from "./types.ts";

export const NDJSON = "application/x-ndjson";
export const ARROW_STREAM = "application/vnd.apache.arrow.stream";

/** The one JSON form of a lake value. */
export function jsonValue(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "bigint")
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonValue(x);
    return out;
  }
  return v;
}

export function jsonRow(row: LakeRow): Record<string, unknown> {
  return jsonValue(row) as Record<string, unknown>;
}

export function ndjson(rows: readonly LakeRow[]): string {
  let out = "";
  for (const r of rows) out += `${JSON.stringify(jsonRow(r))}\n`;
  return out;
}

/** Arrow IPC stream of the rows; timestamps stay timestamps, INT64 stays Int64. */
export function arrowStream(rows: readonly LakeRow[]): Uint8Array {
  const table = rows.length === 0 ? new Table() : tableFromJSON(rows as Record<string, unknown>[]);
  return tableToIPC(table, "stream");
}

/** Whether the caller asked for Arrow: `Accept: application/vnd.apache.arrow.stream`. */
export function wantsArrow(accept: string | undefined): boolean {
  return (accept ?? "")
    .split(",")
    .some((part) => part.trim().split(";")[0]!.trim().toLowerCase() === ARROW_STREAM);
}
