/**
 * Parquet encoding benchmark: Sluice (each record's JSON text -> encodeParquet, ZSTD, as the
 * batcher runs it) against DuckDB (read_json -> COPY parquet ZSTD) and @dsnp/parquetjs, all on one
 * core in the same run, plus peak RSS for one 6 MB batch measured in a fresh child process.
 *
 * The batch path with and without payload encryption, interleaved with the rest: the same
 * records as Kinesis hands them to the batcher (base64 envelopes) through decode, decrypt
 * (`encryption: payload`: AES-256-GCM per record; the data key's KMS Decrypt is answered in
 * process, once, as the container's cache would) and encode. Reported as encrypted / plain.
 *
 *   npm run bench -- encode [--records N] [--runs R] [--skip-parquetjs]
 *   npx tsx test/bench/encode.ts [same flags]
 */
import { spawnSync } from "node:child_process";
import { createSecretKey, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { KinesisStreamRecord } from "aws-lambda";
import { DataKeyOpener } from "../../functions/core/crypto/key-opener.ts";
import { payloadSealer } from "../../functions/core/crypto/payload-cipher.ts";
import { decodeRecords } from "../../functions/core/delivery/decode.ts";
import { decryptItems } from "../../functions/core/delivery/decrypt.ts";
import { envelopeEncoder } from "../../functions/core/envelope.ts";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import {
  encodeParquet,
  type ParquetCompression,
  type ParquetRow,
  planColumns,
} from "../../functions/core/parquet/index.ts";
import { generateFeedback, toNdjson } from "./generate.ts";

const SCHEMA_PATH = fileURLToPath(new URL("../../schemas/feedback.v1.json", import.meta.url));
const BATCH_BYTES = 6_000_000;
const ROW_GROUP = 122_880; // DuckDB's default, so both files have the same row-group layout
const METADATA = {
  "sluice.schema.name": "feedback",
  "sluice.schema.version": "1",
  "sluice.pipeline": "bench",
  "sluice.version": "0.1.0",
};

interface Timing {
  medianMs: number;
  bestMs: number;
  runsMs: number[];
}

interface Envelope {
  ids: string[];
  eventTimes: string[];
  receiveTimes: string[];
}

function loadSchema(): JsonSchema {
  return JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as JsonSchema;
}

function parseArgs(args: string[]): { records: number; runs: number; parquetjs: boolean; rssChild?: string } {
  let records = 200_000;
  // On a shared VM one contender's time swings by a fifth from run to run; medians of 7
  // interleaved rounds keep the ratios steady (parquetjs makes each round about 2 s).
  let runs = 7;
  let parquetjs = true;
  let rssChild: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--records") records = Number(args[++i]);
    else if (a === "--runs") runs = Number(args[++i]);
    else if (a === "--skip-parquetjs") parquetjs = false;
    else if (a === "--rss-child") rssChild = args[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(records) || records < 1) throw new Error("--records needs a positive integer");
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs needs a positive integer");
  return { records, runs, parquetjs, rssChild };
}

/**
 * What the batcher has of each record before encoding, prepared outside the timed part: the
 * envelope's fields (they go through JSON like the real envelope does: built strings would be V8
 * ropes, which cost more to encode than the flat strings JSON.parse returns) and the payload's
 * JSON text, a view into the record's bytes.
 */
function makeEnvelope(lines: readonly string[]): Envelope {
  const ids: string[] = [];
  const eventTimes: string[] = [];
  const receiveTimes: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    ids.push(`01J${i.toString(32).toUpperCase().padStart(23, "0")}`);
    const ts = (JSON.parse(lines[i]!) as { ts: string }).ts;
    eventTimes.push(ts);
    receiveTimes.push(new Date(Date.parse(ts) + 150 + (i % 97)).toISOString());
  }
  return JSON.parse(JSON.stringify({ ids, eventTimes, receiveTimes })) as Envelope;
}

function payloadTexts(lines: readonly string[]): Buffer[] {
  const all = Buffer.from(lines.join("\n"), "utf8");
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    const end = i === lines.length - 1 ? all.length : all.indexOf(0x0a, at);
    out.push(all.subarray(at, end));
    at = end + 1;
  }
  return out;
}

/**
 * The Sluice path as the batcher runs it: each payload's JSON text into encodeParquet. With
 * `parsed`, the way it ran before: JSON.parse each payload, then encode the objects.
 */
function sluiceEncode(
  schema: JsonSchema,
  input: { lines: readonly string[]; texts: readonly Buffer[] },
  env: Envelope,
  compression: ParquetCompression = "zstd",
  parsed = false,
): Uint8Array {
  const n = input.texts.length;
  const rows: ParquetRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    rows[i] = {
      id: env.ids[i]!,
      eventTime: env.eventTimes[i]!,
      receiveTime: env.receiveTimes[i]!,
      schemaVersion: 1,
      data: parsed ? (JSON.parse(input.lines[i]!) as Record<string, unknown>) : input.texts[i]!,
    };
  }
  const plan = planColumns(schema);
  const result = encodeParquet(plan, rows, {
    compression,
    rowGroupSize: ROW_GROUP,
    metadata: METADATA,
  });
  if (result.rejected.length > 0)
    throw new Error(`unexpected rejections: ${JSON.stringify(result.rejected[0])}`);
  return result.bytes;
}

/**
 * The records as the event source hands them to the batcher: each payload's text in an envelope,
 * in the clear or sealed under one data key, base64 as in the Lambda event.
 */
function kinesisRecords(lines: readonly string[], env: Envelope, key?: { kid: string; key: Buffer }) {
  const schema = { name: "sluice.feedback", version: 1 };
  const records: KinesisStreamRecord[] = [];
  const seal =
    key === undefined
      ? undefined
      : payloadSealer({ kid: key.kid, key: createSecretKey(key.key) }, "feedback", schema);
  for (let i = 0; i < lines.length; i++) {
    // One encoder per receive time, as ingest makes one per request.
    const encode = envelopeEncoder({ stream: "feedback", schema, rt: env.receiveTimes[i]! }, seal);
    const bytes = encode(env.ids[i]!, null, env.eventTimes[i]!, undefined, lines[i]!);
    records.push({
      eventID: `shardId-000000000000:${49_000_000 + i}`,
      kinesis: {
        sequenceNumber: String(49_000_000 + i),
        partitionKey: env.ids[i]!,
        approximateArrivalTimestamp: Date.parse(env.receiveTimes[i]!) / 1000,
        data: Buffer.from(bytes).toString("base64"),
      },
    } as KinesisStreamRecord);
  }
  return records;
}

/** decode -> decrypt -> encode, as the batcher runs them (no transformer, no S3). */
async function batchPath(
  schema: JsonSchema,
  records: readonly KinesisStreamRecord[],
  keys: DataKeyOpener,
): Promise<Uint8Array> {
  const decoded = decodeRecords(records);
  const opened = await decryptItems(decoded.items, { keys, retry: { attempts: 1, baseMs: 1, capMs: 1 } });
  if (decoded.failures.length + opened.failures.length > 0) throw new Error("unexpected failures");
  const rows: ParquetRow[] = opened.items.map((item) => ({
    id: item.envelope.id,
    eventTime: item.envelope.ts,
    receiveTime: item.envelope.rt,
    schemaVersion: 1,
    data: item.payload,
  }));
  const result = encodeParquet(planColumns(schema), rows, {
    compression: "zstd",
    rowGroupSize: ROW_GROUP,
    metadata: METADATA,
  });
  if (result.rejected.length > 0)
    throw new Error(`unexpected rejections: ${JSON.stringify(result.rejected[0])}`);
  return result.bytes;
}

interface Contender {
  name: string;
  run: () => Promise<void> | void;
}

/**
 * One warm-up each (JIT, arena growth, DuckDB caches), then `runs` rounds that run every
 * contender once, so load from other processes on a shared machine spreads over all of them.
 */
async function measureInterleaved(
  runs: number,
  contenders: readonly Contender[],
): Promise<Map<string, Timing>> {
  for (const c of contenders) await c.run();
  const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < runs; r++) {
    for (const c of contenders) {
      const t = performance.now();
      await c.run();
      times.get(c.name)!.push(performance.now() - t);
    }
  }
  const out = new Map<string, Timing>();
  for (const [name, runsMs] of times) {
    const sorted = [...runsMs].sort((a, b) => a - b);
    out.set(name, { medianMs: sorted[Math.floor(sorted.length / 2)]!, bestMs: sorted[0]!, runsMs });
  }
  return out;
}

function rate(records: number, bytes: number, ms: number): { recordsPerSec: number; mbPerSec: number } {
  return {
    recordsPerSec: Math.round((records / ms) * 1000),
    mbPerSec: +(bytes / 1e6 / (ms / 1000)).toFixed(1),
  };
}

interface ParquetjsModule {
  ParquetSchema: new (def: Record<string, unknown>) => unknown;
  ParquetWriter: {
    openFile(
      schema: unknown,
      path: string,
      opts?: { rowGroupSize?: number },
    ): Promise<{ appendRow(row: Record<string, unknown>): Promise<void>; close(): Promise<void> }>;
  };
}

async function loadParquetjs(): Promise<ParquetjsModule | string> {
  try {
    const mod = (await import("@dsnp/parquetjs")) as unknown as {
      default?: ParquetjsModule;
    } & ParquetjsModule;
    return mod.ParquetSchema ? mod : (mod.default ?? "module has no ParquetSchema export");
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Peak resident set size of this process in KiB. Linux's VmHWM starts afresh at exec, whereas
 * getrusage's maxrss also counts the parent's memory at fork time.
 */
function peakRssKiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

/** Child process: encode one ~6 MB batch in a fresh process and report its peak RSS. */
async function rssChild(path: string): Promise<void> {
  const schema = loadSchema();
  const lines = readFileSync(path, "utf8").split("\n");
  lines.pop();
  const env = makeEnvelope(lines);
  const input = { lines, texts: payloadTexts(lines) };
  const before = peakRssKiB();
  const t0 = performance.now();
  const first = sluiceEncode(schema, input, env);
  const firstMs = performance.now() - t0;
  const afterFirst = peakRssKiB();
  for (let i = 0; i < 4; i++) sluiceEncode(schema, input, env);
  process.stdout.write(
    `${JSON.stringify({
      records: lines.length,
      inputBytes: statSync(path).size,
      outputBytes: first.length,
      maxRssBeforeKiB: before,
      maxRssAfterFirstKiB: afterFirst,
      maxRssAfterFiveKiB: peakRssKiB(),
      firstEncodeMs: +firstMs.toFixed(1),
    })}\n`,
  );
}

function measureRss(dir: string): Record<string, number> | string {
  const records = generateFeedback(25_000, 7);
  let text = "";
  for (const r of records) {
    const line = `${JSON.stringify(r)}\n`;
    if (text.length + line.length > BATCH_BYTES) break;
    text += line;
  }
  const path = join(dir, "batch-6mb.ndjson");
  writeFileSync(path, text);
  const tsx = import.meta.resolve("tsx");
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ["--import", tsx, self, "--rss-child", path], {
    encoding: "utf8",
  });
  if (child.status !== 0) return `child failed: ${child.stderr.slice(0, 500)}`;
  const last = child.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(last) as Record<string, number>;
}

export async function benchEncode(args: string[]): Promise<void> {
  const opts = parseArgs(args);
  if (opts.rssChild) return rssChild(opts.rssChild);

  const n = opts.records;
  const schema = loadSchema();
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-encode-"));
  try {
    const ndjson = toNdjson(generateFeedback(n, 42));
    const inputPath = join(dir, "feedback.ndjson");
    writeFileSync(inputPath, ndjson);
    const inputBytes = Buffer.byteLength(ndjson);
    const lines = ndjson.split("\n");
    lines.pop();
    const env = makeEnvelope(lines);
    const input = { lines, texts: payloadTexts(lines) };
    console.log(
      `encode bench: ${n} feedback records, ${(inputBytes / 1e6).toFixed(1)} MB NDJSON ` +
        `(${Math.round(inputBytes / n)} B/record), ${opts.runs} interleaved timed rounds after one warm-up, one core`,
    );

    const contenders: Contender[] = [];

    // 1. Sluice
    const sluiceOut = join(dir, "sluice.parquet");
    let sluiceBytes = 0;
    contenders.push({
      name: "sluice",
      run: () => {
        const bytes = sluiceEncode(schema, input, env);
        writeFileSync(sluiceOut, bytes);
        sluiceBytes = bytes.length;
      },
    });

    // 1b. Sluice as it ran before payloads stayed text: JSON.parse each, then encode the objects
    const parsedOut = join(dir, "sluice-parsed.parquet");
    contenders.push({
      name: "sluiceParsed",
      run: () => {
        const bytes = sluiceEncode(schema, input, env, "zstd", true);
        writeFileSync(parsedOut, bytes);
      },
    });

    // 1c. Sluice with SNAPPY: the same codec as parquetjs below
    const snappyOut = join(dir, "sluice-snappy.parquet");
    let snappyBytes = 0;
    contenders.push({
      name: "sluiceSnappy",
      run: () => {
        const bytes = sluiceEncode(schema, input, env, "snappy");
        writeFileSync(snappyOut, bytes);
        snappyBytes = bytes.length;
      },
    });

    // 2. DuckDB, single-threaded
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const db = await DuckDBInstance.create(":memory:");
    const conn = await db.connect();
    await conn.run("SET threads=1");
    const duckOut = join(dir, "duckdb.parquet");
    const copy =
      `COPY (SELECT * FROM read_json('${inputPath}', format='newline_delimited')) ` +
      `TO '${duckOut}' (FORMAT parquet, COMPRESSION zstd)`;
    contenders.push({
      name: "duckdb",
      run: async () => {
        await conn.run(copy);
      },
    });

    // 3. @dsnp/parquetjs (it has no ZSTD; SNAPPY is its fastest codec, so this flatters it)
    let parquetjsProblem: string | undefined = opts.parquetjs ? undefined : "skipped";
    const pqOut = join(dir, "parquetjs.parquet");
    if (opts.parquetjs) {
      const pq = await loadParquetjs();
      if (typeof pq === "string") {
        parquetjsProblem = `unavailable: ${pq}`;
      } else {
        const pqSchema = new pq.ParquetSchema({
          customerId: { type: "UTF8", compression: "SNAPPY" },
          content: { type: "UTF8", compression: "SNAPPY" },
          category: { type: "UTF8", compression: "SNAPPY" },
          isNegative: { type: "BOOLEAN", compression: "SNAPPY" },
          tags: { type: "UTF8", repeated: true, compression: "SNAPPY" },
          ts: { type: "TIMESTAMP_MICROS", compression: "SNAPPY" },
          channel: { type: "UTF8", optional: true, compression: "SNAPPY" },
        });
        const writeAll = async (): Promise<void> => {
          const w = await pq.ParquetWriter.openFile(pqSchema, pqOut, { rowGroupSize: ROW_GROUP });
          for (let i = 0; i < lines.length; i++) {
            const data = JSON.parse(lines[i]!) as Record<string, unknown>;
            data.ts = new Date(data.ts as string);
            await w.appendRow(data);
          }
          await w.close();
        };
        try {
          await writeAll(); // fail here, not mid-measurement, if it cannot run
          contenders.push({ name: "parquetjs", run: writeAll });
        } catch (e) {
          parquetjsProblem = `failed: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
    }

    // 5. The batch path, plain and with payload encryption: records as Kinesis hands them over.
    const dataKey = { kid: randomBytes(184).toString("base64"), key: randomBytes(32) };
    const plainRecords = kinesisRecords(lines, env);
    const sealedRecords = kinesisRecords(lines, env, dataKey);
    const kms = { send: async () => ({ Plaintext: Buffer.from(dataKey.key) }) } as unknown as KMSClient;
    const opener = new DataKeyOpener(kms, { keyId: "alias/bench", app: "bench" });
    const batchOut = {
      plain: join(dir, "batch-plain.parquet"),
      sealed: join(dir, "batch-encrypted.parquet"),
    };
    contenders.push({
      name: "batchPlain",
      run: async () => writeFileSync(batchOut.plain, await batchPath(schema, plainRecords, opener)),
    });
    contenders.push({
      name: "batchEncrypted",
      run: async () => writeFileSync(batchOut.sealed, await batchPath(schema, sealedRecords, opener)),
    });
    const kinesisBytes = (records: readonly KinesisStreamRecord[]) =>
      records.reduce((n, r) => n + Buffer.byteLength(r.kinesis.data, "base64"), 0);
    const envelopeBytes = {
      plain: Math.round(kinesisBytes(plainRecords) / n),
      encrypted: Math.round(kinesisBytes(sealedRecords) / n),
    };

    // 4. JSON.parse alone: what parsing the payloads into objects costs by itself
    contenders.push({
      name: "jsonParse",
      run: () => {
        for (let i = 0; i < lines.length; i++) JSON.parse(lines[i]!);
      },
    });

    const timings = await measureInterleaved(opts.runs, contenders);
    const sluice = timings.get("sluice")!;
    const sluiceSnappy = timings.get("sluiceSnappy")!;
    const sluiceParsed = timings.get("sluiceParsed")!;
    const duck = timings.get("duckdb")!;
    const parseOnly = timings.get("jsonParse")!;
    const parquetjs: Timing | string = timings.get("parquetjs") ?? parquetjsProblem ?? "not run";
    const duckBytes = statSync(duckOut).size;
    const parquetjsBytes = typeof parquetjs === "string" ? 0 : statSync(pqOut).size;
    const check = await conn.runAndReadAll(`SELECT count(*)::INTEGER FROM read_parquet('${sluiceOut}')`);
    const sluiceRows = check.getRows()[0]?.[0];
    if (sluiceRows !== n) throw new Error(`Sluice file has ${String(sluiceRows)} rows, expected ${n}`);
    if (!readFileSync(sluiceOut).equals(readFileSync(parsedOut))) {
      throw new Error("the file from payload texts differs from the one from parsed payloads");
    }
    if (!readFileSync(batchOut.plain).equals(readFileSync(batchOut.sealed))) {
      throw new Error("the file from encrypted payloads differs from the one from plain payloads");
    }
    conn.closeSync();

    const rss = measureRss(dir);

    const row = (label: string, t: Timing | string, bytes: number): void => {
      if (typeof t === "string") {
        console.log(`  ${label.padEnd(26)} ${t}`);
        return;
      }
      const r = rate(n, inputBytes, t.medianMs);
      const size = bytes > 0 ? `  -> ${(bytes / 1e6).toFixed(1)} MB` : "";
      console.log(
        `  ${label.padEnd(26)} ${String(r.recordsPerSec).padStart(9)} rec/s ${String(r.mbPerSec).padStart(7)} MB/s` +
          `   median ${t.medianMs.toFixed(0)} ms, best ${t.bestMs.toFixed(0)} ms${size}`,
      );
    };
    row("sluice (zstd)", sluice, sluiceBytes);
    row("sluice (JSON.parse first)", sluiceParsed, sluiceBytes);
    row("sluice (snappy)", sluiceSnappy, snappyBytes);
    row("duckdb (threads=1, zstd)", duck, duckBytes);
    row("parquetjs (snappy)", parquetjs, parquetjsBytes);
    row("JSON.parse only", parseOnly, 0);
    const batchPlain = timings.get("batchPlain")!;
    const batchEncrypted = timings.get("batchEncrypted")!;
    row("batch path, plain", batchPlain, 0);
    row("batch path, encrypted", batchEncrypted, 0);
    const vsDuck = duck.medianMs / sluice.medianMs;
    const vsPq = typeof parquetjs === "string" ? undefined : parquetjs.medianMs / sluice.medianMs;
    console.log(`  sluice/duckdb    ${vsDuck.toFixed(2)}x (target >= 0.5x)`);
    const vsPqSnappy = typeof parquetjs === "string" ? undefined : parquetjs.medianMs / sluiceSnappy.medianMs;
    console.log(`  sluice/parquetjs ${vsPq === undefined ? "n/a" : `${vsPq.toFixed(2)}x`} (target >= 5x)`);
    console.log(
      `  sluice/parquetjs, both snappy ${vsPqSnappy === undefined ? "n/a" : `${vsPqSnappy.toFixed(2)}x`}`,
    );
    const encryptionCost = batchPlain.medianMs / batchEncrypted.medianMs;
    console.log(
      `  batch path encrypted/plain ${encryptionCost.toFixed(2)} (throughput; decode + decrypt + encode); ` +
        `envelopes ${envelopeBytes.plain} B plain, ${envelopeBytes.encrypted} B encrypted`,
    );
    if (typeof rss === "string") console.log(`  peak RSS: ${rss}`);
    else {
      console.log(
        `  peak RSS, one ${(rss.inputBytes! / 1e6).toFixed(1)} MB batch (${rss.records} records) in a fresh process: ` +
          `${(rss.maxRssAfterFirstKiB! / 1024).toFixed(0)} MiB (${(rss.maxRssBeforeKiB! / 1024).toFixed(0)} MiB ` +
          `before encoding; ${(rss.maxRssAfterFiveKiB! / 1024).toFixed(0)} MiB after five batches)`,
      );
    }
    const summary = {
      bench: "encode",
      records: n,
      inputBytes,
      runs: opts.runs,
      sluice: {
        ...sluice,
        ...rate(n, inputBytes, sluice.medianMs),
        outputBytes: sluiceBytes,
      },
      sluiceParsed: { ...sluiceParsed, ...rate(n, inputBytes, sluiceParsed.medianMs) },
      sluiceSnappy: {
        ...sluiceSnappy,
        ...rate(n, inputBytes, sluiceSnappy.medianMs),
        outputBytes: snappyBytes,
      },
      duckdb: { ...duck, ...rate(n, inputBytes, duck.medianMs), outputBytes: duckBytes },
      parquetjs:
        typeof parquetjs === "string"
          ? parquetjs
          : { ...parquetjs, ...rate(n, inputBytes, parquetjs.medianMs), outputBytes: parquetjsBytes },
      jsonParse: { ...parseOnly, ...rate(n, inputBytes, parseOnly.medianMs) },
      batchPlain: { ...batchPlain, ...rate(n, inputBytes, batchPlain.medianMs) },
      batchEncrypted: { ...batchEncrypted, ...rate(n, inputBytes, batchEncrypted.medianMs) },
      encryption: { ratio: +encryptionCost.toFixed(3), envelopeBytes },
      ratioVsDuckdb: +vsDuck.toFixed(3),
      ratioVsParquetjs: vsPq === undefined ? null : +vsPq.toFixed(3),
      ratioVsParquetjsBothSnappy: vsPqSnappy === undefined ? null : +vsPqSnappy.toFixed(3),
      batchRss: rss,
    };
    console.log(JSON.stringify(summary));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchEncode(process.argv.slice(2));
}
