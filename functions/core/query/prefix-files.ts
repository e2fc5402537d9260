/**
 * The data files of a plain Parquet sink, found from its prefix template: the time placeholders
 * of the template name the event-time bucket each file belongs to, so a time range lists only the
 * prefixes of its buckets (or, for a long range, the common prefix once) and drops every file whose
 * bucket misses the range. Only committed files are read: a file's name carries its shard and
 * first sequence number, and the snapshot each shard's committed checkpoint.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { type CheckpointStore, compareSequence } from "../checkpoints.ts";
import { PREFIX_PLACEHOLDER, safeSegment } from "../prefix.ts";
import type { DataFile, DataFileSource, LakeSnapshot, TimeRange } from "./types.ts";

const TIME_UNITS = ["yyyy", "MM", "dd", "HH", "mm"] as const;
type TimeUnit = (typeof TIME_UNITS)[number];

/** More buckets than this are listed as one common prefix instead, filtered by name. */
const MAX_BUCKET_LISTINGS = 48;

export interface PrefixFilesOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly template: string;
  readonly stream: string;
  readonly pipeline: string;
  readonly checkpoints: CheckpointStore;
}

type Piece = { literal: string } | { unit: TimeUnit } | { other: string };

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function unitValue(unit: TimeUnit, d: Date): string {
  switch (unit) {
    case "yyyy":
      return pad(d.getUTCFullYear(), 4);
    case "MM":
      return pad(d.getUTCMonth() + 1);
    case "dd":
      return pad(d.getUTCDate());
    case "HH":
      return pad(d.getUTCHours());
    case "mm":
      return pad(d.getUTCMinutes());
  }
}

/** Start of the bucket of `ms` at `unit`, and the start of the next. */
function bucketOf(ms: number, unit: TimeUnit): TimeRange {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const mo = d.getUTCMonth();
  switch (unit) {
    case "yyyy":
      return { fromMs: Date.UTC(y, 0), toMs: Date.UTC(y + 1, 0) };
    case "MM":
      return { fromMs: Date.UTC(y, mo), toMs: Date.UTC(y, mo + 1) };
    case "dd":
      return { fromMs: Date.UTC(y, mo, d.getUTCDate()), toMs: Date.UTC(y, mo, d.getUTCDate() + 1) };
    case "HH": {
      const from = Math.floor(ms / 3_600_000) * 3_600_000;
      return { fromMs: from, toMs: from + 3_600_000 };
    }
    case "mm": {
      const from = Math.floor(ms / 60_000) * 60_000;
      return { fromMs: from, toMs: from + 60_000 };
    }
  }
}

export class PrefixTemplateFiles implements DataFileSource {
  private readonly pieces: Piece[] = [];
  /** The finest time unit of the template; undefined when it has none. */
  private readonly finest: TimeUnit | undefined;
  private readonly nameRegex: RegExp;
  /** Capture group of each time unit in `nameRegex`. */
  private readonly groups = new Map<TimeUnit, number>();
  /** The units from the year down that the template has, the ones buckets are built from. */
  private readonly chain: ReadonlySet<TimeUnit>;

  constructor(private readonly o: PrefixFilesOptions) {
    let last = 0;
    for (const m of o.template.matchAll(PREFIX_PLACEHOLDER)) {
      if (m.index > last) this.pieces.push({ literal: o.template.slice(last, m.index) });
      const name = m[1]!;
      if (name === "stream") this.pieces.push({ literal: safeSegment(o.stream) ?? o.stream });
      else if (name === "pipeline") this.pieces.push({ literal: safeSegment(o.pipeline) ?? o.pipeline });
      else if ((TIME_UNITS as readonly string[]).includes(name)) this.pieces.push({ unit: name as TimeUnit });
      else this.pieces.push({ other: name });
      last = m.index + m[0].length;
    }
    if (last < o.template.length) this.pieces.push({ literal: o.template.slice(last) });
    let group = 1;
    let source = "^";
    for (const p of this.pieces) {
      if ("literal" in p) source += escapeRegex(p.literal);
      else if ("unit" in p) {
        // A unit that appears twice must agree with itself; the first capture is the one read.
        if (!this.groups.has(p.unit)) this.groups.set(p.unit, group);
        source += p.unit === "yyyy" ? "([0-9]{4})" : "([0-9]{2})";
        group++;
      } else source += "[^/]+";
    }
    source += `${escapeRegex(o.pipeline)}-.+-[0-9]+-[0-9]+\\.parquet$`;
    this.nameRegex = new RegExp(source);
    // Buckets need the units from the year down: `{HH}` alone does not say which day.
    const missing = TIME_UNITS.findIndex((u) => !this.groups.has(u));
    this.chain = new Set(missing === -1 ? TIME_UNITS : TIME_UNITS.slice(0, missing));
    this.finest = [...TIME_UNITS].reverse().find((u) => this.chain.has(u));
  }

  async snapshot(): Promise<LakeSnapshot> {
    return this.o.checkpoints.committed(this.o.pipeline);
  }

  async files(range: TimeRange | undefined, snapshot: LakeSnapshot): Promise<DataFile[]> {
    const out: DataFile[] = [];
    for (const prefix of this.listingPrefixes(range)) {
      let token: string | undefined;
      do {
        const page = await this.o.s3.send(
          new ListObjectsV2Command({
            Bucket: this.o.bucket,
            Prefix: prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const obj of page.Contents ?? []) {
          if (obj.Key === undefined) continue;
          const file = this.fileOf(obj.Key, obj.Size ?? 0, range, snapshot);
          if (file) out.push(file);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The file if its name is this pipeline's, its bucket meets `range`, and it is committed. */
  private fileOf(
    key: string,
    size: number,
    range: TimeRange | undefined,
    snapshot: LakeSnapshot,
  ): DataFile | undefined {
    const m = this.nameRegex.exec(key);
    if (!m) return undefined;
    const name = key.slice(key.lastIndexOf("/") + 1);
    const tail = /^(.+)-([0-9]+)-([0-9]+)\.parquet$/.exec(name.slice(this.o.pipeline.length + 1));
    if (!tail) return undefined;
    const committed = snapshot[tail[1]!];
    if (committed === undefined || compareSequence(tail[2]!, committed) > 0) return undefined;
    const bucket = this.bucketOfMatch(m);
    if (range && bucket && (bucket.toMs <= range.fromMs || bucket.fromMs >= range.toMs)) return undefined;
    return { key, size, ...(bucket ? { bucket } : {}) };
  }

  private bucketOfMatch(m: RegExpExecArray): TimeRange | undefined {
    if (!this.finest) return undefined;
    const num = (u: TimeUnit, fallback: number) => {
      const g = this.chain.has(u) ? this.groups.get(u) : undefined;
      return g === undefined ? fallback : Number(m[g]);
    };
    // Units the template leaves out (a `dt={yyyy}-{MM}` layout) widen the bucket to the coarser one.
    const start = Date.UTC(num("yyyy", 1970), num("MM", 1) - 1, num("dd", 1), num("HH", 0), num("mm", 0));
    return bucketOf(start, this.finest);
  }

  /** Literal prefixes to list: one per bucket of a short range, else the part before the first unknown. */
  private listingPrefixes(range: TimeRange | undefined): string[] {
    const upToVariable = (d: Date | undefined) => {
      let prefix = "";
      for (const p of this.pieces) {
        if ("literal" in p) prefix += p.literal;
        else if ("unit" in p && d && this.chain.has(p.unit)) prefix += unitValue(p.unit, d);
        else break;
      }
      return prefix;
    };
    if (!range || !this.finest) return [upToVariable(undefined)];
    const prefixes = new Set<string>();
    for (
      let ms = bucketOf(range.fromMs, this.finest).fromMs;
      ms < range.toMs;
      ms = bucketOf(ms, this.finest).toMs
    ) {
      prefixes.add(upToVariable(new Date(ms)));
      if (prefixes.size > MAX_BUCKET_LISTINGS) return [upToVariable(undefined)];
    }
    return [...prefixes];
  }
}
