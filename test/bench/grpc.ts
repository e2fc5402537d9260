/**
 * `npm run bench -- grpc [--records N] [--concurrency C] [--streams S] [--target-delay-ms D]`:
 * records/s through the Sluice gRPC proxy to a local stub of the ingest API, beside direct HTTP
 * batching (500 records a request, keep-alive) to the same stub in the same run, and the ratio.
 *
 * Three processes, so no two stages share an event loop: the stub target and the load generator
 * are children of this one, which runs the proxy. The stub parses each body and answers one
 * result per record, as the ingest API does, without validating or storing anything: what is
 * measured is transport, coalescing and mapping. The load generator prepares every record
 * before the clock starts, then sends them (direct: C concurrent requests of 500; gRPC
 * IngestBatch: C concurrent calls of 500; gRPC IngestStream: S streams, flow-controlled) and
 * stops the clock at the last ack.
 *
 *   npx tsx test/bench/grpc.ts [same flags]
 */
import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { silentLogger } from "../../functions/core/logger.ts";
import { startGrpcProxy } from "../../functions/grpc-proxy/cli.ts";
import { LOADER_OPTIONS } from "../../functions/grpc-proxy/protos.ts";
import { generateFeedback } from "./generate.ts";

const SELF = fileURLToPath(import.meta.url);

interface Options {
  records: number;
  concurrency: number;
  streams: number;
  targetDelayMs: number;
  runs: number;
}

function parseOptions(args: string[]): Options & { role?: string; rest: Record<string, string> } {
  const o: Options = { records: 200_000, concurrency: 4, streams: 4, targetDelayMs: 0, runs: 3 };
  const rest: Record<string, string> = {};
  let role: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = args[++i];
    if (value === undefined) throw new Error(`${a} needs a value`);
    if (a === "--records") o.records = Number(value);
    else if (a === "--concurrency") o.concurrency = Number(value);
    else if (a === "--streams") o.streams = Number(value);
    else if (a === "--target-delay-ms") o.targetDelayMs = Number(value);
    else if (a === "--runs") o.runs = Number(value);
    else if (a === "--role") role = value;
    else if (a.startsWith("--")) rest[a.slice(2)] = value;
    else throw new Error(`unknown argument ${a}`);
  }
  for (const [k, v] of Object.entries(o)) {
    if (!Number.isInteger(v) || v < (k === "targetDelayMs" ? 0 : 1))
      throw new Error(`--${k} needs a positive integer`);
  }
  return { ...o, ...(role ? { role } : {}), rest };
}

/** Child role: the ingest API's shape, answered without doing its work. */
async function stubTarget(delayMs: number): Promise<void> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const { records } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { records: unknown[] };
      const body = JSON.stringify({
        results: records.map((_, i) => ({
          recordId: `01JBENCH${String(i).padStart(18, "0")}`,
          status: "accepted",
        })),
      });
      const send = () => {
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

/** Each record's JSON text, built before the clock starts. */
function payloads(n: number): string[] {
  return generateFeedback(n).map((r) => JSON.stringify(r));
}

/** Records a request or call carries. */
const BATCH = 500;

/** Milliseconds to send records [0, total) in batches of BATCH, `concurrency` batches in flight. */
async function inBatches(
  total: number,
  concurrency: number,
  send: (from: number, to: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const from = next;
        next += BATCH;
        await send(from, Math.min(total, from + BATCH));
      }
    }),
  );
  return performance.now() - started;
}

async function loadDirect(target: string, texts: string[], concurrency: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL("/v1/streams/feedback/records", target);
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(url, {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      });
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
          else {
            JSON.parse(Buffer.concat(chunks).toString("utf8"));
            resolve();
          }
        });
      });
      req.on("error", reject);
      req.end(body);
    });
  const ms = await inBatches(texts.length, concurrency, (from, to) => {
    const items = texts.slice(from, to).map((t) => `{"data":${t}}`);
    return post(`{"records":[${items.join(",")}]}`);
  });
  agent.destroy();
  return ms;
}

type Unary = (req: unknown, cb: (err: grpc.ServiceError | null, res?: { acks: unknown[] }) => void) => void;

function ingestClient(address: string): grpc.Client {
  const definition = loadSync("sluice/v1/ingest.proto", LOADER_OPTIONS);
  const Client = grpc.makeGenericClientConstructor(
    definition["sluice.v1.IngestService"] as unknown as grpc.ServiceDefinition,
    "IngestService",
  );
  // Retries buffer every message they might replay; a producer at full speed turns them off.
  return new Client(address, grpc.credentials.createInsecure(), { "grpc.enable_retries": 0 });
}

async function loadGrpcBatch(address: string, texts: string[], concurrency: number): Promise<number> {
  const client = ingestClient(address);
  const call = (client as unknown as { IngestBatch: Unary }).IngestBatch.bind(client);
  const records = texts.map((t) => ({ stream: "feedback", json: Buffer.from(t) }));
  const ms = await inBatches(
    records.length,
    concurrency,
    (from, to) =>
      new Promise<void>((resolve, reject) =>
        call({ records: records.slice(from, to) }, (err, res) =>
          err ? reject(err) : res!.acks.length === to - from ? resolve() : reject(new Error("acks missing")),
        ),
      ),
  );
  client.close();
  return ms;
}

async function loadGrpcStream(address: string, texts: string[], streams: number): Promise<number> {
  const client = ingestClient(address);
  const records = texts.map((t) => ({ stream: "feedback", json: Buffer.from(t) }));
  const per = Math.ceil(records.length / streams);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, s) => {
      const mine = records.slice(s * per, (s + 1) * per);
      const call = (
        client as unknown as { IngestStream(): grpc.ClientDuplexStream<unknown, unknown> }
      ).IngestStream();
      let acks = 0;
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", () => acks++);
        call.on("error", reject);
        call.on("end", () =>
          acks === mine.length ? resolve() : reject(new Error(`${acks} acks for ${mine.length}`)),
        );
      });
      for (const r of mine) if (!call.write(r)) await new Promise((res) => call.once("drain", res));
      call.end();
      await done;
    }),
  );
  const ms = performance.now() - started;
  client.close();
  return ms;
}

/** Child role: prepares records, sends them one way, prints the elapsed ms of each run. */
async function loadGenerator(o: Options, rest: Record<string, string>): Promise<void> {
  const texts = payloads(o.records);
  const bytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0);
  const runs: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    if (rest.mode === "direct") runs.push(await loadDirect(rest.target!, texts, o.concurrency));
    else if (rest.mode === "batch") runs.push(await loadGrpcBatch(rest.target!, texts, o.concurrency));
    else runs.push(await loadGrpcStream(rest.target!, texts, o.streams));
  }
  process.stdout.write(`${JSON.stringify({ runs, bytes })}\n`, () => process.exit(0));
}

function child(args: string[]): { proc: ChildProcess; line: Promise<Record<string, unknown>> } {
  // The child's stdin is its lifeline: it exits when this process goes away, however it ends.
  const proc = spawn(process.execPath, ["--import", "tsx", SELF, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
    });
    proc.on("exit", (code) => reject(new Error(`bench child ${args.join(" ")} exited with ${code}`)));
  });
  return { proc, line };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchGrpc(args: string[]): Promise<void> {
  const o = parseOptions(args);
  const stub = child(["--role", "stub", "--target-delay-ms", String(o.targetDelayMs)]);
  const { port } = (await stub.line) as { port: number };
  const target = `http://127.0.0.1:${port}`;
  const proxy = await startGrpcProxy({ target, port: 0, logger: silentLogger });
  const common = [
    "--records",
    String(o.records),
    "--runs",
    String(o.runs),
    "--concurrency",
    String(o.concurrency),
    "--streams",
    String(o.streams),
  ];
  try {
    const results: { name: string; runs: number[]; bytes: number; proxyCpuUs: number }[] = [];
    for (const [name, mode, to] of [
      ["direct HTTP batches (500/request)", "direct", target],
      ["gRPC IngestBatch via proxy (500/call)", "batch", proxy.address],
      ["gRPC IngestStream via proxy", "stream", proxy.address],
    ] as const) {
      // This process runs only the proxy: its CPU time is the proxy's cost, whatever the client's.
      const cpu = process.cpuUsage();
      const load = child(["--role", "load", "--mode", mode, "--target", to, ...common]);
      const out = (await load.line) as { runs: number[]; bytes: number };
      const used = process.cpuUsage(cpu);
      results.push({ name, ...out, proxyCpuUs: (used.user + used.system) / (o.records * o.runs) });
    }
    const direct = o.records / (median(results[0]!.runs) / 1000);
    const stats = proxy.stats();
    const lines = [
      `gRPC proxy bench: ${o.records.toLocaleString("en")} feedback records (${(results[0]!.bytes / o.records).toFixed(0)} B of JSON each), median of ${o.runs} runs, stub target delay ${o.targetDelayMs} ms`,
      `  concurrency ${o.concurrency} requests/calls, ${o.streams} streams; proxy defaults (500 records / 5 MiB / 20 ms linger, 4 in flight per stream)`,
      "",
      ...results.map((r) => {
        const rate = o.records / (median(r.runs) / 1000);
        const cpu = r.runs === results[0]!.runs ? "" : `   proxy CPU ${r.proxyCpuUs.toFixed(1)} us/record`;
        return `  ${r.name.padEnd(40)} ${Math.round(rate).toLocaleString("en").padStart(10)} records/s   ${(rate / direct).toFixed(2)} x direct${cpu}   (runs ms: ${r.runs.map((x) => x.toFixed(0)).join(", ")})`;
      }),
      "",
      `  proxy: ${stats.batches} requests to the target, peak ${stats.peakBufferedRecords} records buffered, peak ${stats.peakInFlightBatches} requests in flight, ${stats.pauses} flow-control pauses, rss ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await proxy.close();
    stub.proc.kill();
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed.role) {
    process.stdin.on("end", () => process.exit(0));
    process.stdin.resume();
  }
  if (parsed.role === "stub") await stubTarget(parsed.targetDelayMs);
  else if (parsed.role === "load") await loadGenerator(parsed, parsed.rest);
  else await benchGrpc(process.argv.slice(2));
}
