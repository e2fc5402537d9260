/**
 * Cold start of each function as deployed: bundles every handler with the CDK app's esbuild options
 * (lib/function-defaults.ts), reports the zipped size against the targets (2 MB, 3 MB for the
 * batcher), then in a fresh Node process per run times importing the bundle and
 * handling a first 1,000-record batch against the embedded stack (or AWS_ENDPOINT_URL):
 * ingest takes two 500-record requests (its per-request limit), the batcher one Kinesis batch,
 * the transformer one Firehose-contract invocation. The registry and the schema-registration
 * custom resource are off the record path: only their size and load are measured.
 *
 * The same handlers bundled with the AWS SDK left external (resolved from node_modules, as the
 * Lambda runtime's SDK would be) are measured too: that comparison is why the SDK is bundled.
 *
 *   npm run bench -- coldstart [--runs N] [--load-only] [--no-external]
 */
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateRawSync } from "node:zlib";
import type { APIGatewayProxyEventV2, KinesisStreamEvent } from "aws-lambda";
import { build } from "esbuild";
import { createAwsClients } from "../../functions/core/aws-clients.ts";
import { createGlueClient } from "../../functions/core/catalog/glue-client.ts";
import type { TransformationEvent } from "../../functions/core/firehose-contract.ts";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import type { Manifest } from "../../functions/core/manifest/types.ts";
import { LOCAL_ACCOUNT } from "../../functions/core/names.ts";
import { newRecordId } from "../../functions/core/record-id.ts";
import {
  RUNTIME_CONFIG_ENV,
  type RuntimeConfig,
  runtimeConfig,
} from "../../functions/core/runtime-config.ts";
import {
  BUNDLE_EXTRAS,
  ESBUILD_OPTIONS,
  FUNCTION_ENTRIES,
  type FunctionKind,
} from "../../lib/function-defaults.ts";
import { ingestConfig, PIPELINE_ENV, pipelineConfig, registryConfig } from "../../lib/runtime-env.ts";
import { provision } from "../../localstack/lambda/provision.ts";
import { type EmbeddedStack, startEmbeddedStack } from "../../localstack/stack.ts";
import { generateFeedback } from "./generate.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const REGION = "us-east-1";
const RECORDS = 1_000;
const ZIP_TARGET: Record<FunctionKind, number> = {
  ingest: 2_000_000,
  registry: 2_000_000,
  admin: 2_000_000,
  transform: 2_000_000,
  batch: 3_000_000,
  schemas: 2_000_000,
  // Parquet reading (hyparquet) and Arrow IPC (apache-arrow) weigh on the read path only.
  query: 3_000_000,
  tail: 3_000_000,
  commit: 3_000_000,
  imports: 2_000_000,
  // The CSV and Parquet readers sluice send uses ride along with the ingest core.
  importChunk: 3_000_000,
};

interface Options {
  runs: number;
  loadOnly: boolean;
  external: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { runs: 3, loadOnly: false, external: true };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--runs") o.runs = Number(args[++i]);
    else if (a === "--load-only") o.loadOnly = true;
    else if (a === "--no-external") o.external = false;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error("--runs takes a positive integer");
  return o;
}

interface Variant {
  readonly kind: FunctionKind;
  readonly sdk: "bundled" | "external";
  readonly dir: string;
}

interface Measured {
  readonly name: string;
  readonly zippedBytes: number;
  readonly files: Record<string, number>;
  readonly loadMs: number[];
  readonly firstBatchMs: number[];
  readonly check?: string;
}

async function bundle(work: string, kind: FunctionKind, sdk: Variant["sdk"]): Promise<Variant> {
  const dir = join(work, `${kind}-${sdk}`);
  mkdirSync(dir, { recursive: true });
  await build({
    ...ESBUILD_OPTIONS,
    mainFields: [...ESBUILD_OPTIONS.mainFields],
    external: sdk === "external" ? ["@aws-sdk/*"] : [...ESBUILD_OPTIONS.external],
    entryPoints: [FUNCTION_ENTRIES[kind]],
    outfile: join(dir, "index.mjs"),
    logLevel: "error",
  });
  for (const extra of BUNDLE_EXTRAS[kind])
    copyFileSync(join(ROOT, extra), join(dir, extra.split("/").pop()!));
  return { kind, sdk, dir };
}

/** What Lambda would download: `zip -9` when installed, else the sum of raw-deflated files (close to it). */
function zippedSize(dir: string): { zipped: number; files: Record<string, number> } {
  const names = readdirSync(dir).filter((f) => f !== "node_modules");
  const files = Object.fromEntries(names.map((f) => [f, readFileSync(join(dir, f)).length]));
  const zipPath = join(dir, "..", `${dir.split("/").pop()}.zip`);
  const zip = spawnSync("zip", ["-q", "-9", "-X", zipPath, ...names], { cwd: dir });
  if (zip.status === 0) {
    const size = readFileSync(zipPath).length;
    rmSync(zipPath);
    return { zipped: size, files };
  }
  return {
    zipped: names.reduce(
      (n, f) => n + deflateRawSync(readFileSync(join(dir, f)), { level: 9 }).length + 100,
      0,
    ),
    files,
  };
}

// Answers are summarized in the child: printing 1,000 transformed records would dwarf the numbers.
const RUNNER = `
import { readFileSync } from "node:fs";
const [bundle, eventsFile] = process.argv.slice(2);
const events = eventsFile ? JSON.parse(readFileSync(eventsFile, "utf8")) : [];
const t0 = performance.now();
const mod = await import(bundle);
const loadMs = performance.now() - t0;
let firstBatchMs = null;
const results = [];
if (events.length > 0) {
  const t1 = performance.now();
  for (const e of events) results.push(await mod.handler(e));
  firstBatchMs = performance.now() - t1;
}
const summary = results.map((r) =>
  "statusCode" in r ? { statusCode: r.statusCode }
  : "batchItemFailures" in r ? { batchItemFailures: r.batchItemFailures.length }
  : { records: r.records.length, ok: r.records.filter((x) => x.result === "Ok").length });
process.stdout.write(JSON.stringify({ loadMs, firstBatchMs, summary }) + "\\n", () => process.exit(0));
`;

function ingestEvents(stream: string): APIGatewayProxyEventV2[] {
  const records = generateFeedback(RECORDS, 7);
  const events: APIGatewayProxyEventV2[] = [];
  for (let i = 0; i < records.length; i += 500) {
    const body = JSON.stringify({ records: records.slice(i, i + 500).map((data) => ({ data })) });
    events.push({
      version: "2.0",
      routeKey: "POST /v1/streams/{stream}/records",
      rawPath: `/v1/streams/${stream}/records`,
      rawQueryString: "",
      headers: { "content-type": "application/json" },
      pathParameters: { stream },
      isBase64Encoded: false,
      body,
      requestContext: {
        accountId: LOCAL_ACCOUNT,
        apiId: "bench",
        domainName: "bench.local",
        domainPrefix: "bench",
        http: {
          method: "POST",
          path: `/v1/streams/${stream}/records`,
          protocol: "HTTP/1.1",
          sourceIp: "127.0.0.1",
          userAgent: "bench",
        },
        requestId: `bench-${i}`,
        routeKey: "POST /v1/streams/{stream}/records",
        stage: "$default",
        time: new Date().toISOString(),
        timeEpoch: Date.now(),
      },
    });
  }
  return events;
}

function batchEvents(stream: string, subject: string, run: number): KinesisStreamEvent[] {
  const shardId = `shardId-${String(run).padStart(12, "0")}`;
  const now = Date.now();
  const records = generateFeedback(RECORDS, 11).map((data, i) => {
    const envelope = {
      v: 1,
      id: newRecordId(now),
      stream,
      schema: { name: subject, version: 1 },
      key: null,
      ts: data.ts,
      rt: new Date(now).toISOString(),
      data,
    };
    const sequenceNumber = (49_600_000_000_000_000_000_000_000_000n + BigInt(i)).toString();
    return {
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: data.customerId,
        sequenceNumber,
        data: Buffer.from(JSON.stringify(envelope)).toString("base64"),
        approximateArrivalTimestamp: now / 1000,
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: `${shardId}:${sequenceNumber}`,
      eventName: "aws:kinesis:record",
      invokeIdentityArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/bench`,
      awsRegion: REGION,
      eventSourceARN: `arn:aws:kinesis:${REGION}:${LOCAL_ACCOUNT}:stream/bench`,
    };
  });
  return [{ Records: records }];
}

function transformEvents(): TransformationEvent[] {
  const now = Date.now();
  return [
    {
      invocationId: "bench",
      deliveryStreamArn: "coldstart-transform",
      region: REGION,
      records: generateFeedback(RECORDS, 13).map((data, i) => ({
        recordId: String(i),
        data: Buffer.from(JSON.stringify(data)).toString("base64"),
        approximateArrivalTimestamp: now,
        kinesisRecordMetadata: {
          shardId: "shardId-000000000000",
          partitionKey: data.customerId,
          sequenceNumber: String(i),
          subsequenceNumber: "0",
          approximateArrivalTimestamp: now,
        },
      })),
    },
  ];
}

interface Answer {
  readonly statusCode?: number;
  readonly batchItemFailures?: number;
  readonly records?: number;
  readonly ok?: number;
}

/** A one-line verdict on a handler's answers, so a fast failure is not mistaken for a fast start. */
function checkAnswers(kind: FunctionKind, answers: readonly Answer[]): string {
  if (kind === "ingest") {
    const statuses = answers.map((a) => a.statusCode);
    return statuses.every((s) => s === 200) ? "ok" : `statuses ${statuses.join(",")}`;
  }
  if (kind === "batch") {
    const failures = answers.reduce((n, a) => n + (a.batchItemFailures ?? 0), 0);
    return failures === 0 ? "ok" : `${failures} batch item failures`;
  }
  const records = answers.reduce((n, a) => n + (a.records ?? 0), 0);
  const ok = answers.reduce((n, a) => n + (a.ok ?? 0), 0);
  return records === RECORDS ? `ok (${ok} Ok)` : `${records} records back (${ok} Ok)`;
}

/** Async, so the embedded stack's edge, which runs in this process, keeps serving the child. */
function runChild(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function benchManifest(): Manifest {
  const m = loadManifest(join(ROOT, "sluice.yaml"));
  return { ...m, name: `coldstart-${Date.now().toString(36)}` };
}

export async function benchColdstart(args: string[]): Promise<void> {
  const opts = parseArgs(args);
  const work = mkdtempSync(join(tmpdir(), "sluice-coldstart-"));
  // External-SDK bundles resolve @aws-sdk from the repo, as they would from the runtime's folder.
  symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
  writeFileSync(join(work, "runner.mjs"), RUNNER);

  const variants: Variant[] = [];
  for (const kind of ["ingest", "registry", "batch", "transform", "schemas"] as const)
    variants.push(await bundle(work, kind, "bundled"));
  if (opts.external) {
    for (const kind of ["ingest", "batch"] as const) variants.push(await bundle(work, kind, "external"));
  }

  let stack: EmbeddedStack | undefined;
  let endpoint = process.env.AWS_ENDPOINT_URL;
  const manifest = benchManifest();
  const config = runtimeConfig(manifest, LOCAL_ACCOUNT, REGION);
  const pipeline = manifest.pipelines[0]!.name;
  const awsEnv = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "test",
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "test",
    AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
    NODE_NO_WARNINGS: "1",
  };
  // The parent provisions with the same dummy credentials the children use.
  for (const name of [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REQUEST_CHECKSUM_CALCULATION",
  ] as const) {
    process.env[name] ??= awsEnv[name];
  }

  // Auth is measured by the ingest tests; here it is off so the batch is only ingest's own work.
  const ingestRuntime: RuntimeConfig = { ...ingestConfig(config), auth: { apiKeys: false } } as RuntimeConfig;
  const withSteps: RuntimeConfig = {
    ...config,
    pipelines: {
      [pipeline]: {
        ...config.pipelines[pipeline]!,
        steps: [
          { filter: { field: "category", op: "ne", value: "spam" } },
          { rename: { content: "text" } },
          { mask: { fields: ["customerId"], mode: "sha256", salt: "bench" } },
        ],
        transformer: "coldstart-transform",
      },
    },
  };
  const envFor = (kind: FunctionKind): Record<string, string> => {
    if (kind === "ingest") return { [RUNTIME_CONFIG_ENV]: JSON.stringify(ingestRuntime) };
    if (kind === "registry") return { [RUNTIME_CONFIG_ENV]: JSON.stringify(registryConfig(config)) };
    // The custom resource gets everything in its event; it reads only the AWS settings.
    if (kind === "schemas") return {};
    const c = kind === "batch" ? pipelineConfig(config, pipeline) : pipelineConfig(withSteps, pipeline);
    return { [RUNTIME_CONFIG_ENV]: JSON.stringify(c), [PIPELINE_ENV]: pipeline };
  };
  const eventsFor = (kind: FunctionKind, run: number): unknown[] => {
    if (kind === "ingest") return ingestEvents("feedback");
    if (kind === "registry" || kind === "schemas") return [];
    if (kind === "batch") return batchEvents("feedback", config.streams.feedback!.subject, run);
    return transformEvents();
  };

  const measured: Measured[] = [];
  let run = 0;
  try {
    if (!opts.loadOnly) {
      if (!endpoint) {
        process.stderr.write("starting the embedded stack...\n");
        stack = await startEmbeddedStack({ port: 0 });
        endpoint = stack.endpoint;
      }
      await provision(
        createAwsClients({ endpoint, region: REGION }),
        createGlueClient({ endpoint, region: REGION }),
        manifest,
        config,
      );
    }
    for (const v of variants) {
      const { zipped, files } = zippedSize(v.dir);
      const loadMs: number[] = [];
      const firstBatchMs: number[] = [];
      let check: string | undefined;
      for (let i = 0; i < opts.runs; i++) {
        const eventsFile = join(work, `events-${run}.json`);
        const events = opts.loadOnly ? [] : eventsFor(v.kind, run);
        const withEvents = events.length > 0;
        if (withEvents) writeFileSync(eventsFile, JSON.stringify(events));
        run++;
        const child = await runChild(
          [join(work, "runner.mjs"), join(v.dir, "index.mjs"), ...(withEvents ? [eventsFile] : [])],
          {
            PATH: process.env.PATH ?? "",
            ...awsEnv,
            ...(endpoint ? { AWS_ENDPOINT_URL: endpoint } : {}),
            LOG_LEVEL: "error",
            ...envFor(v.kind),
          },
        );
        const line = child.stdout.trim().split("\n").pop() ?? "";
        if (child.status !== 0 || !line.startsWith("{")) {
          throw new Error(`${v.kind} (${v.sdk} SDK) failed:\n${child.stderr.slice(-2000)}`);
        }
        const out = JSON.parse(line) as { loadMs: number; firstBatchMs: number | null; summary: Answer[] };
        loadMs.push(out.loadMs);
        if (out.firstBatchMs !== null) {
          firstBatchMs.push(out.firstBatchMs);
          check = checkAnswers(v.kind, out.summary);
        }
      }
      measured.push({
        name: `${v.kind} (SDK ${v.sdk})`,
        zippedBytes: zipped,
        files,
        loadMs,
        firstBatchMs,
        ...(check ? { check } : {}),
      });
      const target = ZIP_TARGET[v.kind];
      if (v.sdk === "bundled" && zipped > target) {
        process.stderr.write(`warning: ${v.kind} is ${zipped} bytes zipped, over its ${target} target\n`);
      }
    }
  } finally {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const mb = (n: number) => (n / 1_000_000).toFixed(2);
  const ms = (xs: number[]) => (xs.length ? median(xs).toFixed(0) : "-");
  const rows = measured.map((m) => [
    m.name,
    `${mb(m.zippedBytes)} MB`,
    `${ms(m.loadMs)} ms`,
    `${ms(m.firstBatchMs)} ms`,
    m.check ?? "-",
  ]);
  const header = ["function", "zipped", "load (median)", `first ${RECORDS} records`, "check"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  process.stdout.write(`${fmt(header)}\n${fmt(widths.map((w) => "-".repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${fmt(r)}\n`);
  process.stdout.write(
    `${JSON.stringify({
      bench: "coldstart",
      runs: opts.runs,
      records: RECORDS,
      node: process.version,
      results: measured.map((m) => ({
        function: m.name,
        zippedBytes: m.zippedBytes,
        files: m.files,
        loadMsMedian: Number(median(m.loadMs).toFixed(1)),
        firstBatchMsMedian: m.firstBatchMs.length ? Number(median(m.firstBatchMs).toFixed(1)) : null,
        check: m.check ?? null,
      })),
    })}\n`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchColdstart(process.argv.slice(2));
}
