/**
 * Query-string parameters of the read routes, parsed and checked once: a bad time, limit, field
 * list or cursor is refused with the parameter it is about, before anything is read.
 */
import { SluiceError } from "../errors.ts";
import { type CursorState, decodeCursor } from "./cursor.ts";
import { DEFAULT_PAGE, MAX_PAGE, type TimeRange } from "./types.ts";

export interface RecordsRequest {
  readonly range?: TimeRange;
  readonly key?: string;
  readonly fields?: readonly string[];
  readonly limit: number;
  readonly cursor?: CursorState;
  /** A caller's own, lower scanned-bytes limit. */
  readonly maxScanBytes?: number;
}

type Params = Readonly<Record<string, string | undefined>>;

function invalid(param: string, message: string): SluiceError {
  return new SluiceError("INVALID_QUERY", message, 400, `/${param}`);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i;
const RELATIVE = /^-?(\d{1,9})(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An instant as RFC 3339 (`2026-05-01T10:00:00Z`, or a date), or a duration ago (`15m`, `-2h`). */
export function parseInstant(param: string, text: string, now: number): number {
  const rel = RELATIVE.exec(text);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS];
  const ms = RFC3339.test(text) ? Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text) : Number.NaN;
  if (Number.isNaN(ms))
    throw invalid(
      param,
      `${param} ${JSON.stringify(text.slice(0, 64))} is not a time: give RFC 3339 (2026-05-01T10:00:00Z) or a duration ago (15m, 2h, 1d)`,
    );
  return ms;
}

export function parseRecordsRequest(
  stream: string,
  params: Params,
  now: number,
  /** How far ahead of now an event time may be: `to`'s default. */
  futureSkewMs: number,
): RecordsRequest {
  const limitText = params.limit;
  let limit = DEFAULT_PAGE;
  if (limitText !== undefined) {
    if (!/^[0-9]{1,9}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_PAGE)
      throw invalid("limit", `limit must be an integer from 1 to ${MAX_PAGE}`);
    limit = Number(limitText);
  }
  let maxScanBytes: number | undefined;
  if (params.maxBytes !== undefined) {
    if (!/^[0-9]{1,15}$/.test(params.maxBytes) || Number(params.maxBytes) < 1)
      throw invalid("maxBytes", "maxBytes must be a positive integer");
    maxScanBytes = Number(params.maxBytes);
  }
  const asked = {
    fromMs: params.from === undefined ? undefined : parseInstant("from", params.from, now),
    toMs: params.to === undefined ? undefined : parseInstant("to", params.to, now),
    key: params.key,
    fields: params.fields === undefined ? undefined : parseFields(params.fields),
  };
  if (params.cursor !== undefined) {
    const cursor = decodeCursor(params.cursor, stream);
    // A cursor continues its own query: parameters that would change it are refused, not ignored.
    for (const name of ["fromMs", "toMs", "key"] as const) {
      if (asked[name] !== undefined && asked[name] !== cursor[name])
        throw new SluiceError(
          "INVALID_CURSOR",
          `the cursor continues a query with another ${name.replace("Ms", "")}; send the cursor without it, or start again without the cursor`,
          400,
          "/cursor",
        );
    }
    return {
      ...(cursor.fromMs === undefined
        ? {}
        : { range: { fromMs: cursor.fromMs, toMs: cursor.toMs ?? Infinity } }),
      ...(cursor.key === undefined ? {} : { key: cursor.key }),
      ...(cursor.fields === undefined ? {} : { fields: cursor.fields }),
      limit,
      cursor,
      ...(maxScanBytes === undefined ? {} : { maxScanBytes }),
    };
  }
  if (asked.key !== undefined && (asked.key.length === 0 || asked.key.length > 512))
    throw invalid("key", "key must be 1 to 512 characters");
  if (asked.key === undefined && asked.fromMs === undefined)
    throw invalid("from", "from is required for a time-range query (RFC 3339 or a duration ago such as 1h)");
  const fromMs = asked.fromMs ?? -8_640_000_000_000_000;
  const toMs = asked.toMs ?? now + futureSkewMs;
  if (asked.fromMs !== undefined && toMs <= fromMs) throw invalid("to", "to must be later than from");
  return {
    ...(asked.fromMs === undefined && asked.toMs === undefined ? {} : { range: { fromMs, toMs } }),
    ...(asked.key === undefined ? {} : { key: asked.key }),
    ...(asked.fields === undefined ? {} : { fields: asked.fields }),
    limit,
    ...(maxScanBytes === undefined ? {} : { maxScanBytes }),
  };
}

function parseFields(text: string): string[] {
  const fields = text.split(",").map((f) => f.trim());
  if (
    fields.length === 0 ||
    fields.length > 200 ||
    fields.some((f) => !/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(f))
  )
    throw invalid("fields", "fields must be a comma-separated list of top-level column names");
  return [...new Set(fields)];
}
