/**
 * Reads one page of a stream's lake in (event time, record id) order: list the files that may
 * hold the range, read their footers, keep the row groups whose statistics may match, then read
 * those in order of their earliest event time, only the columns asked for, and stop as soon as
 * no unread row group can hold a row before the page's last one.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { AsyncBuffer } from "hyparquet";
import { SluiceError } from "../errors.ts";
import { compilePath, getPath } from "../field-path.ts";
import {
  chunkBytes,
  type FileMetaData,
  keyValue,
  readMetadata,
  readRows,
  type ScanBudget,
  s3Buffer,
  topColumns,
} from "./lake-file.ts";
import { type KeyMatch, keyMayMatch, timeBounds, timeMayMatch, valueMatches } from "./row-groups.ts";
import type {
  DataFile,
  DataFileSource,
  LakeRow,
  LakeSnapshot,
  Position,
  ReadCounters,
  ReadLimits,
  TimeRange,
} from "./types.ts";

export interface LakeQuery {
  readonly range?: TimeRange;
  /** For a key lookup: rows matching any of these. */
  readonly keys?: readonly KeyMatch[];
  /** Top-level columns to return; every column when undefined. */
  readonly fields?: readonly string[];
  readonly limit: number;
  /** Continue after this position (from a cursor). */
  readonly after?: Position;
  /** The snapshot a cursor carries; a first page takes a new one. */
  readonly snapshot?: LakeSnapshot;
  /** Skip files written with another schema subject (sinks several streams share). */
  readonly subject?: string;
}

export interface LakePage {
  readonly rows: LakeRow[];
  /** Position of the last row when more may follow. */
  readonly next?: Position;
  readonly snapshot: LakeSnapshot;
  readonly counters: ReadCounters;
}

export interface LakeReaderDeps {
  readonly source: DataFileSource;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly limits: ReadLimits;
  readonly clock?: () => number;
  /** How a data file's bytes are read. @default ranged GETs from `bucket` */
  readonly open?: (file: DataFile, budget: ScanBudget) => AsyncBuffer;
}

interface Candidate {
  readonly file: AsyncBuffer;
  readonly metadata: FileMetaData;
  readonly columns: ReadonlySet<string>;
  readonly start: number;
  readonly end: number;
  readonly bounds: { min: number; max: number };
  readonly rg: number;
}

const ENVELOPE_ORDER = ["_id", "_event_time"] as const;

export function comparePositions(a: Position, b: Position): number {
  return a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function positionOf(row: LakeRow): Position {
  const t = row._event_time;
  return { ts: t instanceof Date ? t.getTime() : Number(t), id: String(row._id) };
}

function tooLarge(message: string): SluiceError {
  return new SluiceError("QUERY_TOO_LARGE", message, 413);
}

/** Runs `fn` over `items` with at most `width` at once, keeping their order in the result. */
async function inOrder<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return out;
}

export async function readLake(q: LakeQuery, deps: LakeReaderDeps): Promise<LakePage> {
  const clock = deps.clock ?? Date.now;
  const started = clock();
  const counters: ReadCounters = {
    filesListed: 0,
    filesRead: 0,
    rowGroupsTotal: 0,
    rowGroupsRead: 0,
    bytesScanned: 0,
  };
  const { maxScanBytes, maxDurationMs } = deps.limits;
  const overLimit = () =>
    tooLarge(
      `the query would scan more than its limit of ${maxScanBytes} bytes (maxScanBytes); narrow the time range or ask for fewer fields or rows`,
    );
  const budget = (bytes: number) => {
    if (counters.bytesScanned + bytes > maxScanBytes) throw overLimit();
    counters.bytesScanned += bytes;
  };
  const checkTime = () => {
    if (clock() - started > maxDurationMs)
      throw tooLarge(
        `the query ran past its time limit of ${maxDurationMs} ms (maxDurationMs); narrow the time range or ask for fewer rows`,
      );
  };

  const snapshot = q.snapshot ?? (await deps.source.snapshot());
  const files = await deps.source.files(q.range, snapshot);
  counters.filesListed = files.length;

  const opened = await inOrder(files, 8, async (f) => {
    checkTime();
    const file = deps.open ? deps.open(f, budget) : s3Buffer(deps.s3, deps.bucket, f.key, f.size, budget);
    const metadata = await readMetadata(file);
    counters.filesRead++;
    return { file, metadata };
  });

  const known = new Set<string>();
  const candidates: Candidate[] = [];
  for (const { file, metadata } of opened) {
    if (q.subject !== undefined && keyValue(metadata, "sluice.schema.name") !== q.subject) continue;
    const columns = new Set(topColumns(metadata));
    for (const c of columns) known.add(c);
    let start = 0;
    metadata.row_groups.forEach((group, rg) => {
      const rows = Number(group.num_rows);
      counters.rowGroupsTotal++;
      const bounds = timeBounds(metadata, rg);
      if (timeMayMatch(bounds, q.range, q.after) && (!q.keys || keyMayMatch(metadata, rg, q.keys)))
        candidates.push({ file, metadata, columns, start, end: start + rows, bounds, rg });
      start += rows;
    });
  }
  if (q.fields && known.size > 0) {
    const unknown = q.fields.filter((f) => !known.has(f));
    if (unknown.length > 0)
      throw new SluiceError(
        "INVALID_QUERY",
        `no file of this stream has the field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; top-level columns are ${[...known].join(", ")}`,
        400,
        "/fields",
      );
  }
  candidates.sort((a, b) => a.bounds.min - b.bounds.min);

  const keyPaths = (q.keys ?? []).map((k) => ({ path: compilePath(k.column), values: k.values }));
  const wanted = new Set<string>([
    ...ENVELOPE_ORDER,
    ...(q.fields ?? known),
    ...(q.keys ?? []).map((k) => k.column.split(".")[0]!),
  ]);
  const keyColumns = (q.keys ?? []).map((k) => k.column.split(".")[0]!);
  // What the first step of a two-step read decodes: the key columns alone for a plain lookup
  // (positions are needed only for the few rows that match), with time and id for a range.
  const positioned = q.range !== undefined || q.after !== undefined || keyColumns.length === 0;
  const probeColumns = new Set<string>([...(positioned ? ENVELOPE_ORDER : []), ...keyColumns]);
  const keyMatch = (row: LakeRow): boolean =>
    keyPaths.length === 0 ||
    keyPaths.some((k) => k.values.some((v) => valueMatches(getPath(row, k.path), v)));
  const inRange = (pos: Position): boolean =>
    !(q.range && (pos.ts < q.range.fromMs || pos.ts >= q.range.toMs)) &&
    !(q.after && comparePositions(pos, q.after) <= 0);
  let rows: { pos: Position; row: LakeRow }[] = [];
  let stoppedEarly = false;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const last = rows[q.limit - 1];
    if (last && c.bounds.min > last.pos.ts) {
      stoppedEarly = true;
      break;
    }
    checkTime();
    const columns = [...wanted].filter((w) => c.columns.has(w));
    const probe = [...probeColumns].filter((w) => c.columns.has(w));
    // A row group the statistics cannot settle is read in two steps: the time, id and key
    // columns first, then the other columns only over the rows that matched.
    const unsettled =
      keyPaths.length > 0 ||
      (q.range !== undefined && (c.bounds.min < q.range.fromMs || c.bounds.max >= q.range.toMs)) ||
      (q.after !== undefined && c.bounds.min <= q.after.ts);
    const rest = columns.filter((col) => !probe.includes(col));
    const twoStep = unsettled && rest.length > 0;
    const first = twoStep ? probe : columns;
    // Refused before the fetch, not after it: the chunks' size is in the footer.
    if (counters.bytesScanned + chunkBytes(c.metadata, c.rg, new Set(first)) > maxScanBytes)
      throw overLimit();
    // No key column in this file: none of its rows can match.
    if (first.length === 0) continue;
    const read = await readRows(c.file, c.metadata, first, c.start, c.end);
    counters.rowGroupsRead++;
    const timed = first.includes("_event_time");
    // Only rows that can still make the page: the page's limit + 1 first positions so far.
    const pageCandidates = (indexes: number[]): number[] => {
      const cutoff = rows.length > q.limit ? rows[q.limit]!.pos : undefined;
      return indexes
        .map((i) => ({ i, pos: positionOf(read[i]!) }))
        .filter((m) => inRange(m.pos) && (cutoff === undefined || comparePositions(m.pos, cutoff) < 0))
        .sort((a, b) => comparePositions(a.pos, b.pos))
        .slice(0, q.limit + 1)
        .map((m) => m.i)
        .sort((a, b) => a - b);
    };
    let hits: number[] = [];
    read.forEach((row, i) => {
      if (keyMatch(row)) hits.push(i);
    });
    if (timed) hits = pageCandidates(hits);
    if (twoStep && hits.length > 0) {
      if (counters.bytesScanned + chunkBytes(c.metadata, c.rg, new Set(rest)) > maxScanBytes)
        throw overLimit();
      const lo = hits[0]!;
      const hi = hits[hits.length - 1]!;
      const others = await readRows(c.file, c.metadata, rest, c.start + lo, c.start + hi + 1);
      for (const i of hits) Object.assign(read[i]!, others[i - lo]);
    }
    if (!timed) hits = pageCandidates(hits);
    for (const i of hits) rows.push({ pos: positionOf(read[i]!), row: read[i]! });
    rows.sort((a, b) => comparePositions(a.pos, b.pos));
    if (rows.length > q.limit + 1) rows = rows.slice(0, q.limit + 1);
  }
  const more = rows.length > q.limit || stoppedEarly;
  const page = rows.slice(0, q.limit);
  const fields = q.fields;
  return {
    rows: page.map(({ row }) => (fields ? project(row, fields) : row)),
    ...(more && page.length > 0 ? { next: page[page.length - 1]!.pos } : {}),
    snapshot,
    counters,
  };
}

function project(row: LakeRow, fields: readonly string[]): LakeRow {
  const out: LakeRow = {};
  for (const f of fields) if (Object.hasOwn(row, f)) out[f] = row[f];
  return out;
}
