/**
 * Read-path benchmark over a lake of 1M feedback records written by Sluice's own Parquet writer
 * (ZSTD, 100k-row row groups as the sink default, 10 files): a time-range query (10k rows, every
 * column) and a record-id lookup, Sluice's lake reader (hyparquet, row-group pruning) against
 * DuckDB reading the same files, in the same process, interleaved; then hyparquet against
 * parquet-wasm decoding the same row group, both checked to give the same record ids.
 *
 * The lake is written once per size and row-group size into .sluice/cache/bench-read/ and reused
 * (writing 1M records takes minutes on a small VM; the encode bench measures writing), its ids
 * and times read back from the files; --fresh writes it again.
 *
 *   npm run bench -- read [--records N] [--runs R] [--row-group N] [--fresh]
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { S3Client } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { tableFromIPC } from "apache-arrow";
import type { AsyncBuffer } from "hyparquet";
import { readParquet } from "parquet-wasm";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import { encodeParquet, type ParquetRow, planColumns } from "../../functions/core/parquet/index.ts";
import { readMetadata, readRows, type ScanBudget } from "../../functions/core/query/lake-file.ts";
import { readLake } from "../../functions/core/query/lake-reader.ts";
import type { DataFile, DataFileSource, LakeRow } from "../../functions/core/query/types.ts";
import { newRecordId } from "../../functions/core/record-id.ts";
import { CACHE_DIR } from "../../localstack/paths.ts";
import { generateFeedback } from "./generate.ts";

const SCHEMA_PATH = fileURLToPath(new URL("../../schemas/feedback.v1.json", import.meta.url));
const FILES = 10;
const RANGE_ROWS = 10_000;
const UNLIMITED = { maxScanBytes: Number.MAX_SAFE_INTEGER, maxDurationMs: Number.MAX_SAFE_INTEGER };

/** Files of a local folder as a lake: every file, already committed. */
class LocalFiles implements DataFileSource {
  constructor(private readonly list: readonly DataFile[]) {}
  async snapshot() {
    return {};
  }
  async files() {
    return [...this.list];
  }
}

function localBuffer(path: string, size: number, budget: ScanBudget = () => undefined): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start, end) {
      const last = Math.min(end ?? size, size);
      budget(last - start);
      const out = Buffer.alloc(last - start);
      const fd = openSync(path, "r");
      try {
        readSync(fd, out, 0, out.length, start);
      } finally {
        closeSync(fd);
      }
      return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
    },
  };
}

interface Lake {
  readonly dir: string;
  readonly files: DataFile[];
  readonly ids: string[];
  readonly times: number[];
}

const COMPLETE = "complete";

/** The cached lake of `n` records, or a new one written there. */
async function openLake(
  n: number,
  rowGroupSize: number,
  fresh: boolean,
): Promise<{ lake: Lake; written: boolean }> {
  const dir = join(CACHE_DIR, "bench-read", `${n}-${rowGroupSize}`);
  if (fresh || !existsSync(join(dir, COMPLETE))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const lake = writeLake(dir, n, rowGroupSize);
    writeFileSync(join(dir, COMPLETE), "");
    return { lake, written: true };
  }
  const keys = Array.from({ length: FILES }, (_, f) => join(dir, fileName(f))).filter((k) => existsSync(k));
  const files = keys.map((key) => ({ key, size: statSync(key).size }));
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  // One thread keeps the files' row order, which the ids and times arrays follow.
  await c.run("SET threads = 1");
  const read = await c.runAndReadAll(
    `SELECT _id, epoch_ms(_event_time) AS t FROM read_parquet([${keys.map((k) => `'${k}'`).join(", ")}])`,
  );
  const ids: string[] = [];
  const times: number[] = [];
  for (const [id, t] of read.getRows()) {
    ids.push(String(id));
    times.push(Number(t));
  }
  c.closeSync();
  return { lake: { dir, files, ids, times }, written: false };
}

const fileName = (f: number) => `lake-shard-${String(f).padStart(4, "0")}.parquet`;

function writeLake(dir: string, n: number, rowGroupSize: number): Lake {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as JsonSchema;
  const plan = planColumns(schema);
  const records = generateFeedback(n);
  const ids: string[] = [];
  const times: number[] = [];
  const rows: ParquetRow[] = records.map((r) => {
    const t = Date.parse(r.ts);
    const id = newRecordId(t);
    ids.push(id);
    times.push(t);
    return { id, eventTime: r.ts, receiveTime: r.ts, schemaVersion: 1, data: Buffer.from(JSON.stringify(r)) };
  });
  const per = Math.ceil(n / FILES);
  const files: DataFile[] = [];
  for (let f = 0; f * per < n; f++) {
    const out = encodeParquet(plan, rows.slice(f * per, (f + 1) * per), {
      compression: "zstd",
      rowGroupSize,
      metadata: { "sluice.schema.name": "feedback", "sluice.schema.version": "1" },
    });
    if (out.rejected.length > 0) throw new Error(`rejected: ${JSON.stringify(out.rejected[0])}`);
    const key = join(dir, fileName(f));
    writeFileSync(key, out.bytes);
    files.push({ key, size: out.bytes.length });
  }
  return { dir, files, ids, times };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const idsOf = (rows: readonly LakeRow[]) => rows.map((r) => String(r._id));

function sameIds(what: string, a: readonly string[], b: readonly string[]): void {
  if (a.length !== b.length || a.some((x, i) => x !== b[i]))
    throw new Error(`${what}: the readers disagree (${a.length} vs ${b.length} rows)`);
}

export async function benchRead(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      records: { type: "string", default: "1000000" },
      runs: { type: "string", default: "5" },
      "row-group": { type: "string", default: "100000" },
      fresh: { type: "boolean", default: false },
    },
  });
  const n = Number(values.records);
  const runs = Number(values.runs);
  const t0 = performance.now();
  const { lake, written } = await openLake(n, Number(values["row-group"]), values.fresh ?? false);
  const bytes = lake.files.reduce((s, f) => s + f.size, 0);
  process.stdout.write(
    `lake: ${n} records, ${lake.files.length} files, ${(bytes / 1e6).toFixed(1)} MB, ${written ? "written" : "read from the cache"} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  const source = new LocalFiles(lake.files);
  const deps = {
    source,
    s3: undefined as unknown as S3Client,
    bucket: "",
    limits: UNLIMITED,
    open: (f: DataFile, budget: ScanBudget) => localBuffer(f.key, f.size, budget),
  };
  const mid = Math.floor(n / 2);
  const range = { fromMs: lake.times[mid]!, toMs: lake.times[mid + RANGE_ROWS]! };
  const target = lake.ids[Math.floor(n * 0.37)]!;
  const list = `[${lake.files.map((f) => `'${f.key}'`).join(", ")}]`;
  const db = await DuckDBInstance.create(":memory:");
  const duck = await db.connect();
  await duck.run("SET threads = 1");
  const duckRows = async (sql: string) => (await duck.runAndReadAll(sql)).getRowObjects();
  const iso = (ms: number) => new Date(ms).toISOString();

  const queries = {
    range: {
      sluice: async () => {
        const page = await readLake({ range, limit: RANGE_ROWS }, deps);
        return { ids: idsOf(page.rows), rowGroups: page.counters.rowGroupsRead };
      },
      duckdb: async () => {
        const rows = await duckRows(
          `SELECT * FROM read_parquet(${list}) WHERE _event_time >= TIMESTAMPTZ '${iso(range.fromMs)}' AND _event_time < TIMESTAMPTZ '${iso(range.toMs)}' ORDER BY _event_time, _id LIMIT ${RANGE_ROWS}`,
        );
        return { ids: rows.map((r) => String(r._id)) };
      },
    },
    lookup: {
      sluice: async () => {
        const page = await readLake({ keys: [{ column: "_id", values: [target] }], limit: 100 }, deps);
        return { ids: idsOf(page.rows), rowGroups: page.counters.rowGroupsRead };
      },
      duckdb: async () => {
        const rows = await duckRows(`SELECT * FROM read_parquet(${list}) WHERE _id = '${target}'`);
        return { ids: rows.map((r) => String(r._id)) };
      },
    },
  };

  const lines: string[] = [];
  for (const [name, q] of Object.entries(queries)) {
    const sluiceMs: number[] = [];
    const duckMs: number[] = [];
    let rowGroups = 0;
    for (let r = 0; r < runs; r++) {
      const a = await time(q.sluice);
      const b = await time(q.duckdb);
      sameIds(name, [...a.value.ids].sort(), [...b.value.ids].sort());
      rowGroups = a.value.rowGroups;
      sluiceMs.push(a.ms);
      duckMs.push(b.ms);
    }
    const s = median(sluiceMs.slice(1));
    const d = median(duckMs.slice(1));
    lines.push(
      `${name.padEnd(7)} sluice ${s.toFixed(1)} ms (${rowGroups} row groups read)  duckdb ${d.toFixed(1)} ms  ratio sluice/duckdb ${(s / d).toFixed(2)}`,
    );
  }
  duck.closeSync();

  // Decoders on the same bytes: the row group the range query starts in, every column.
  const file = lake.files[Math.floor(mid / Math.ceil(n / FILES))]!;
  const whole = readFileSync(file.key);
  const buffer = localBuffer(file.key, file.size);
  const metadata = await readMetadata(buffer);
  const rg = 0;
  const rgRows = Number(metadata.row_groups[rg]!.num_rows);
  const columns = [...new Set(metadata.row_groups[0]!.columns.map((c) => c.meta_data!.path_in_schema[0]!))];
  const hyMs: number[] = [];
  const wasmMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const h = await time(() => readRows(buffer, metadata, columns, 0, rgRows));
    const w = await time(async () => {
      const table = tableFromIPC(readParquet(whole, { rowGroups: [rg] }).intoIPCStream());
      return table.toArray().map((row) => row.toJSON() as LakeRow);
    });
    sameIds("decode", idsOf(h.value), idsOf(w.value));
    hyMs.push(h.ms);
    wasmMs.push(w.ms);
  }
  const h = median(hyMs.slice(1));
  const w = median(wasmMs.slice(1));
  lines.push(
    `decode  hyparquet ${h.toFixed(1)} ms  parquet-wasm ${w.toFixed(1)} ms for one ${rgRows}-row group to JS rows  ratio hyparquet/parquet-wasm ${(h / w).toFixed(2)}`,
  );
  process.stdout.write(
    `${lines.join("\n")}\n(medians of ${runs - 1} runs after a warm-up, one core for DuckDB)\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRead(process.argv.slice(2));
