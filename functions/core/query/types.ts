/** Plain data of the read path: what a query asks, what the lake offers, what a read costs. */

/** Half-open event-time range, epoch milliseconds: `from <= t < to`. */
export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * Which committed data a read sees, fixed on its first page so later pages read the same files
 * however much arrives meanwhile. For plain Parquet sinks, each shard's committed sequence
 * number; an Iceberg source would keep a snapshot id here.
 */
export type LakeSnapshot = Readonly<Record<string, string>>;

export interface DataFile {
  readonly key: string;
  /** Bytes, from the listing: lets a reader fetch the footer without a HEAD. */
  readonly size: number;
  /** Event-time bucket the file's path puts it in, when the layout has one. */
  readonly bucket?: TimeRange;
}

/**
 * Which data files may hold rows of one stream in a time range, as of a snapshot. The prefix
 * template listing implements it for plain Parquet sinks; an Iceberg manifest reader can too.
 */
export interface DataFileSource {
  /** The committed state to read; taken on a query's first page and kept in its cursor. */
  snapshot(): Promise<LakeSnapshot>;
  /** Files that may hold rows in `range` (every file when undefined), sorted by key. */
  files(range: TimeRange | undefined, snapshot: LakeSnapshot): Promise<DataFile[]>;
}

/** A position in a read's order: event time (ms), then record id. */
export interface Position {
  readonly ts: number;
  readonly id: string;
}

/** What a read cost: the test suite and the response headers show it. */
export interface ReadCounters {
  filesListed: number;
  filesRead: number;
  rowGroupsTotal: number;
  rowGroupsRead: number;
  bytesScanned: number;
}

export interface ReadLimits {
  /** Bytes fetched from the lake (footers and column chunks) before refusing. */
  readonly maxScanBytes: number;
  /** Wall time before refusing. */
  readonly maxDurationMs: number;
}

export const DEFAULT_LIMITS: ReadLimits = { maxScanBytes: 512 * 1024 * 1024, maxDurationMs: 25_000 };

/** Largest page; a caller asks for fewer with `limit`. */
export const MAX_PAGE = 10_000;
export const DEFAULT_PAGE = 1_000;

export type LakeRow = Record<string, unknown>;
