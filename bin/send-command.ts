/**
 * `sluice send <stream> [file|-]`: a file of records onto a stream, resumable after a crash.
 * Exit codes: 0 every record accepted or a duplicate, 1 some rejected or the send failed, 2 usage.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import {
  columnTypes,
  formatFromName,
  INPUT_FORMATS,
  InputError,
  type InputFormat,
  readInput,
  sniffFormat,
} from "../functions/core/input/read-input.ts";
import { apiBase, defaultKey } from "./api-client.ts";
import { API_BATCH_LIMITS, inputId, keyedRecords } from "./send/batches.ts";
import { type Rejection, SendFailed, type SendTally, sendRecords } from "./send/sender.ts";
import { grpcTransport, httpTransport } from "./send/transport.ts";

export const SEND_USAGE = `usage: sluice send <stream> [file|-] [options]

Sends NDJSON (.ndjson, .jsonl), a JSON array (.json), CSV (.csv, cells typed by the stream's
schema) or Parquet (.parquet) to a stream, from a file or stdin ("-" or no file), in batches of
at most 500 records and 5 MiB. Each record's idempotency key is derived from the input's bytes
and its line (or position), so running the same send again after a crash writes nothing twice.

options:
  --format <f>            ndjson, json, csv or parquet (default: from the file name, else sniffed)
  --key-field <field>     take each record's idempotency key from this top-level field instead
  --rejects <file>        where rejected records go, one JSON line each with its reason
                          (default: <file>.rejects.ndjson, or send.rejects.ndjson for stdin)
  --grpc [host:port]      send over gRPC (sluice.v1.IngestService; default 127.0.0.1:50051)
  --concurrency <n>       batches in flight (default: 4)
  --batch-size <n>        records per request, 1-500 (default: 500)
  --progress-every <s>    seconds between progress lines when not on a terminal (default: 5)
  --url <url>             ingest API (default: $SLUICE_URL or http://127.0.0.1:8080)
  --key <key>             API key (default: $SLUICE_API_KEY, else .sluice/dev-key if present)
`;

export interface SendIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly isTTY: boolean;
  readonly stdin: () => Promise<Buffer>;
}

const processIo: SendIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  },
};

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: "string" },
      "key-field": { type: "string" },
      rejects: { type: "string" },
      grpc: { type: "boolean", default: false },
      concurrency: { type: "string", default: "4" },
      "batch-size": { type: "string", default: "500" },
      "progress-every": { type: "string", default: "5" },
      url: { type: "string" },
      key: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  // `--grpc host:port`: parseArgs has no optional values, so a positional after --grpc that looks like an address is taken.
  const grpcAt = argv.indexOf("--grpc");
  const next = grpcAt >= 0 ? argv[grpcAt + 1] : undefined;
  let grpcAddress: string | undefined;
  if (values.grpc) {
    grpcAddress = "127.0.0.1:50051";
    if (next !== undefined && /^[\w.-]+:\d+$/.test(next)) {
      grpcAddress = next;
      positionals.splice(positionals.indexOf(next), 1);
    }
  }
  const [stream, file, ...extra] = positionals;
  if (values.help) return { help: true as const };
  if (!stream) throw new UsageError("a stream is required");
  if (extra.length > 0) throw new UsageError(`unexpected ${extra.join(" ")}`);
  const format = values.format;
  if (format !== undefined && !(INPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format is one of ${INPUT_FORMATS.join(", ")}`);
  }
  const concurrency = Number(values.concurrency);
  const every = Number(values["progress-every"]);
  const batchSize = Number(values["batch-size"]);
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= API_BATCH_LIMITS.maxRecords)) {
    throw new UsageError(`--batch-size is a whole number from 1 to ${API_BATCH_LIMITS.maxRecords}`);
  }
  if (!(Number.isInteger(concurrency) && concurrency > 0))
    throw new UsageError("--concurrency is a positive whole number");
  if (!(every > 0)) throw new UsageError("--progress-every is a positive number of seconds");
  return {
    help: false as const,
    stream,
    file: file === undefined || file === "-" ? undefined : file,
    format: format as InputFormat | undefined,
    keyField: values["key-field"],
    rejects: values.rejects,
    grpcAddress,
    concurrency,
    batchSize,
    everyMs: every * 1000,
    url: apiBase(values.url),
    key: values.key ?? defaultKey(),
  };
}

/** The stream's current JSON Schema, for typing CSV cells. */
async function streamSchema(url: string, key: string | undefined, stream: string): Promise<unknown> {
  const headers = key ? { "x-api-key": key } : undefined;
  const res = await fetch(`${url}/v1/streams/${encodeURIComponent(stream)}`, { headers });
  const body = (await res.json()) as {
    schema?: { subject: string; version: number };
    error?: { message: string };
  };
  if (!res.ok || !body.schema)
    throw new SendFailed(`cannot read stream ${stream}: ${res.status} ${body.error?.message ?? ""}`);
  const v = await fetch(
    `${url}/v1/schemas/${encodeURIComponent(body.schema.subject)}/versions/${body.schema.version}`,
    { headers },
  );
  if (!v.ok)
    throw new SendFailed(`cannot read schema ${body.schema.subject} v${body.schema.version}: ${v.status}`);
  return ((await v.json()) as { schema: unknown }).schema;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function progressReporter(io: SendIo, total: number, everyMs: number) {
  const started = performance.now();
  const rate = (done: number) => done / Math.max((performance.now() - started) / 1000, 0.001);
  if (io.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: "{bar} {percentage}% | {value}/{total} records | {rate} rec/s | {mb} | ETA {eta_formatted}",
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: "0", mb: mb(0) });
    return {
      update: (t: Readonly<SendTally>) => {
        const done = t.accepted + t.duplicate + t.rejected;
        bar.update(done, { rate: rate(done).toFixed(0), mb: mb(t.bytes) });
      },
      stop: () => bar.stop(),
    };
  }
  let last = performance.now();
  return {
    update: (t: Readonly<SendTally>) => {
      if (performance.now() - last < everyMs) return;
      last = performance.now();
      const done = t.accepted + t.duplicate + t.rejected;
      const r = rate(done);
      const eta = r > 0 ? Math.ceil((total - done) / r) : 0;
      io.err(
        `sent ${done}/${total} records (${Math.floor((done / Math.max(total, 1)) * 100)}%), ${r.toFixed(0)} rec/s, ${mb(t.bytes)}, ETA ${eta}s\n`,
      );
    },
    stop: () => {},
  };
}

export async function runSendCommand(argv: string[], io: SendIo = processIo): Promise<number> {
  let o: ReturnType<typeof parse>;
  try {
    o = parse(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${SEND_USAGE}`);
    return 2;
  }
  if (o.help) {
    io.out(SEND_USAGE);
    return 0;
  }
  let bytes: Buffer;
  try {
    bytes = o.file === undefined ? await io.stdin() : readFileSync(o.file);
  } catch (err) {
    io.err(`cannot read ${o.file}: ${(err as Error).message}\n`);
    return 1;
  }
  const format = o.format ?? (o.file ? formatFromName(o.file) : undefined) ?? sniffFormat(bytes);
  const rejectsPath = o.rejects ?? (o.file ? `${o.file}.rejects.ndjson` : "send.rejects.ndjson");
  const rejections: Rejection[] = [];
  const transport = o.grpcAddress ? grpcTransport(o.grpcAddress, o.key) : httpTransport(o.url, o.key);
  try {
    const types = format === "csv" ? columnTypes(await streamSchema(o.url, o.key, o.stream)) : undefined;
    const input = await readInput(bytes, format, types);
    const keyed = keyedRecords(input.records, inputId(bytes), o.keyField);
    for (const p of [...input.problems, ...keyed.problems]) rejections.push(p);
    const total = keyed.records.length;
    const progress = progressReporter(io, total, o.everyMs);
    let tally: SendTally;
    try {
      tally = await sendRecords(keyed.records, {
        stream: o.stream,
        transport,
        concurrency: o.concurrency,
        limits: { ...API_BATCH_LIMITS, maxRecords: o.batchSize },
        onProgress: progress.update,
        onReject: (r) => rejections.push(r),
      });
    } finally {
      progress.stop();
    }
    const rejected = tally.rejected + input.problems.length + keyed.problems.length;
    if (rejections.length > 0) {
      rejections.sort((a, b) => a.ordinal - b.ordinal);
      writeFileSync(
        rejectsPath,
        rejections.map((r) => `${JSON.stringify({ line: r.ordinal, ...r, ordinal: undefined })}\n`).join(""),
      );
    }
    io.out(
      `${o.stream}: ${tally.accepted} accepted, ${tally.duplicate} duplicate, ${rejected} rejected` +
        `${rejected > 0 ? ` (reasons in ${rejectsPath})` : ""}; ${mb(tally.bytes)}, ${tally.retries} retries\n`,
    );
    return rejected > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof SendFailed || err instanceof InputError) {
      io.err(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    transport.close();
  }
}
