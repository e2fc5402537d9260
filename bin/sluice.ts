#!/usr/bin/env -S npx tsx
/**
 * The `sluice` command line.
 *   sluice dev [--manifest sluice.yaml] [--port 8080] [--reset]   run the whole pipeline locally
 *   sluice validate [--manifest sluice.yaml] [--stage dev] [--region r] [--local]   check a manifest
 *   sluice schema register|check|list|show|config ...             the schema registry
 *   sluice streams list|create|pause|resume|delete [stream]       the stream lifecycle
 *   sluice import <stream> s3://... | sluice import status <id>   import jobs
 *   sluice stats <stream> [--minutes 60]                          a stream's figures
 * Exit codes: 0 ok, 1 runtime failure, 2 invalid manifest or usage.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { glueName } from "../functions/core/catalog/projection.ts";
import { createLogger, type LogLevel } from "../functions/core/logger.ts";
import {
  DEFAULT_MANIFEST_PATH,
  type DeployTarget,
  loadManifest,
  ManifestError,
} from "../functions/core/manifest/index.ts";
import type { Manifest } from "../functions/core/manifest/types.ts";
import { DEFAULT_STAGE, STAGE_PATTERN, STAGE_RULE } from "../functions/core/names.ts";
import { type GrpcProxy, runGrpcProxy, startGrpcProxy } from "../functions/grpc-proxy/cli.ts";
import { customTransformNames } from "../functions/transform/custom.ts";
import { startLocalRunner } from "../localstack/lambda/local-runner.ts";
import { type EmbeddedStack, StackStartError, startEmbeddedStack } from "../localstack/stack.ts";
import { runImportCommand } from "./import-command.ts";
import { runKeysCommand } from "./keys-command.ts";
import { useLocalStackDefaults } from "./local-env.ts";
import { runReadCommand } from "./read-command.ts";
import { runSchemaCommand } from "./schema-command.ts";
import { runSendCommand } from "./send-command.ts";
import { runStatsCommand } from "./stats-command.ts";
import { runStreamsCommand } from "./streams-command.ts";
import { runTableCommand } from "./table-command.ts";

const DEFAULT_STATE_DIR = ".sluice";

const USAGE = `usage: sluice <command> [options]

commands:
  dev          start the embedded AWS stack (unless AWS_ENDPOINT_URL is set) and run the pipeline
  validate     validate the manifest for deploying (--stage, --region) or, with --local, for dev
  grpc-proxy   serve sluice.v1.IngestService in front of an ingest API (--target URL; --help for more)
  schema       register, check, list, show and configure schemas (sluice schema --help)
  streams      list, create, pause, resume and delete streams (sluice streams --help)
  stats        a stream's records accepted, rejected, delivered, files and lag (sluice stats --help)
  keys         create, list and revoke API keys; --admin bootstraps a deployed stack (sluice keys --help)
  send         send a file (NDJSON, JSON array, CSV, Parquet) to a stream (sluice send --help)
  import       import S3 objects into a stream as a job, and follow it (sluice import --help)
  query        records of a stream in a time range (sluice query --help)
  get          a record by record id, partition key or idempotency key
  tail         replay a stream from a time, then follow it live
  table        an Iceberg sink's snapshots and files, snapshot expiry, orphan removal (sluice table --help)
  compact      compact an Iceberg sink's closed partitions (sluice compact [sink]; as sluice table compact)
  expire       expire an Iceberg sink's old snapshots, then delete what none kept reaches (as sluice table expire)

options:
  --manifest <file>   manifest path (default: ${DEFAULT_MANIFEST_PATH})
  --port <n>          local ingest API port for dev (default: 8080; 0 picks a free one)
  --grpc-port <n>     gRPC proxy port for dev (default: 50051; 0 turns it off)
  --edge-port <n>     embedded stack edge port for dev (default: 4566; 0 picks a free one)
  --state-dir <dir>   where dev keeps its state (default: ${DEFAULT_STATE_DIR}): the embedded stack's
                      streams, records, tables, objects and keys in <dir>/localstack, the dev API
                      key in <dir>/dev-key. All of it survives a restart, a crash or kill -9 included
  --reset             delete that state first and start fresh (a new dev API key)
  --stage <name>      validate: the stage being deployed (default: dev); names carry it
  --region <region>   validate: the region being deployed to (default: the longest region name)
  --local             validate: for the local runner only, without the deploy checks
  --idempotency-lock-seconds <n>
                      how long ingest holds an idempotency key whose write it has not finished
                      (default: 60); after a crash, retries with such a key get IN_PROGRESS until then
`;

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function manifestOrExit(path: string, deploy?: DeployTarget): Manifest {
  try {
    return loadManifest(path, { customTransforms: customTransformNames(), ...(deploy ? { deploy } : {}) });
  } catch (err) {
    if (err instanceof ManifestError) fail(err.message, 2);
    throw err;
  }
}

interface DevOptions {
  readonly manifestPath: string;
  readonly port: number;
  readonly edgePort: number;
  readonly grpcPort: number;
  readonly stateDir: string;
  readonly reset: boolean;
  readonly idempotencyLockSeconds?: number;
}

function readDevKey(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

async function dev(o: DevOptions): Promise<void> {
  const startedAt = performance.now();
  const manifest = manifestOrExit(o.manifestPath);
  useLocalStackDefaults();

  const dataDir = path.join(o.stateDir, "localstack");
  const devKeyFile = path.join(o.stateDir, "dev-key");
  if (o.reset) {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(devKeyFile, { force: true });
    process.stdout.write(`--reset: deleted ${dataDir} and ${devKeyFile}\n`);
  }

  let stack: EmbeddedStack | undefined;
  let endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    process.stdout.write("starting the embedded AWS stack...\n");
    try {
      stack = await startEmbeddedStack({ port: o.edgePort, dataDir, persist: true });
    } catch (err) {
      if (err instanceof StackStartError) fail(`error: ${err.message}\n${err.hint}`, 1);
      throw err;
    }
    endpoint = stack.endpoint;
  }
  const logger = createLogger("sluice-dev", (process.env.LOG_LEVEL as LogLevel | undefined) ?? "warn");
  let runner: Awaited<ReturnType<typeof startLocalRunner>>;
  try {
    const reuseDevKey = readDevKey(devKeyFile);
    runner = await startLocalRunner({
      manifest,
      endpoint,
      httpPort: o.port,
      logger,
      ...(reuseDevKey === undefined ? {} : { reuseDevKey }),
      ...(o.idempotencyLockSeconds === undefined ? {} : { idempotencyLockSeconds: o.idempotencyLockSeconds }),
      // The Iceberg tables' snapshots as they are committed.
      onSnapshot: (sink, r) =>
        process.stdout.write(
          `snapshot ${r.snapshotId} of table ${sink}: ${r.status === "committed" ? "append" : r.status}, ${r.records} records in ${r.files} files\n`,
        ),
    });
  } catch (err) {
    await stack?.stop();
    // An AWS error with no body ("UnknownError") says little alone: its HTTP status tells which.
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    fail(`error: ${(err as Error).message}${status === undefined ? "" : ` (HTTP ${status})`}`, 1);
  }
  let grpc: GrpcProxy | undefined;
  const grpcPort = o.grpcPort;
  if (grpcPort > 0) {
    try {
      grpc = await startGrpcProxy({ target: runner.url, port: grpcPort, logger });
    } catch (err) {
      await runner.stop();
      await stack?.stop();
      fail(
        `error: gRPC proxy on port ${grpcPort}: ${(err as Error).message} (pass --grpc-port 0 to run without it)`,
        1,
      );
    }
  }
  if (runner.devKey && !runner.devKeyReused) {
    // Whole or not at all: a kill mid-write must not leave an empty key file.
    mkdirSync(o.stateDir, { recursive: true });
    writeFileSync(`${devKeyFile}.tmp`, `${runner.devKey}\n`, { mode: 0o600 });
    renameSync(`${devKeyFile}.tmp`, devKeyFile);
  }
  const auth = runner.devKey ? ` -H "authorization: Bearer $(cat ${devKeyFile})"` : "";
  const buckets = [...new Set(Object.values(runner.config.pipelines).map((p) => p.sink.bucket))];
  const firstStream = manifest.streams[0]?.name ?? "feedback";
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  const state = !stack
    ? `  state          in the stack at AWS_ENDPOINT_URL`
    : stack.resumed
      ? `  state          resumed from ${dataDir} (--reset starts fresh)`
      : `  state          fresh, kept in ${dataDir} across restarts (--reset starts fresh)`;
  process.stdout.write(
    [
      "",
      `Sluice is running (manifest ${manifest.path}, app "${manifest.name}", ready in ${seconds} s)`,
      state,
      `  AWS endpoint   ${endpoint}`,
      `  ingest API     ${runner.url}`,
      ...(grpc
        ? [`  gRPC proxy     127.0.0.1:${grpc.port}  (sluice.v1.IngestService, proto/sluice/v1/ingest.proto)`]
        : []),
      ...(runner.devKey
        ? [
            `  dev API key    ${runner.devKey}  (admin; ${runner.devKeyReused ? "the same as before" : "new"}, in ${devKeyFile})`,
          ]
        : ["  auth           off (manifest auth.apiKeys: false)"]),
      `  console        ${runner.devKey ? `${runner.consoleLink()}  (works once; or open ${runner.url}/console/ and paste the dev key)` : `${runner.url}/console/`}`,
      `  send a record  curl -s -X POST ${runner.url}/v1/streams/${firstStream}/records${auth} -H 'content-type: application/json' -d @examples/feedback.json`,
      ...buckets.map(
        (b) => `  Parquet lands  s3://${b}/${stack ? `  (on disk: ${path.join(dataDir, "s3", b)}/)` : ""}`,
      ),
      ...manifest.sinks
        .filter((k) => k.type === "iceberg" && manifest.pipelines.some((p) => p.sink === k.name))
        .map(
          (k) =>
            `  Iceberg table  ${runner.config.catalog.database}.${glueName(k.name)}  (npx tsx bin/sluice.ts table snapshots|files ${k.name})`,
        ),
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping...\n");
    await grpc?.close();
    await runner.stop();
    await stack?.stop();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

async function main(argv: string[]): Promise<void> {
  // The proxy has its own options (TLS files and limits); hand it everything after its name.
  if (argv[0] === "grpc-proxy") return runGrpcProxy(argv.slice(1));
  if (argv[0] === "schema") process.exit(await runSchemaCommand(argv.slice(1)));
  if (argv[0] === "streams") process.exit(await runStreamsCommand(argv.slice(1)));
  if (argv[0] === "stats") process.exit(await runStatsCommand(argv.slice(1)));
  if (argv[0] === "keys") process.exit(await runKeysCommand(argv.slice(1)));
  if (argv[0] === "send") process.exit(await runSendCommand(argv.slice(1)));
  if (argv[0] === "import") process.exit(await runImportCommand(argv.slice(1)));
  if (argv[0] === "query" || argv[0] === "get" || argv[0] === "tail")
    process.exit(await runReadCommand(argv[0], argv.slice(1)));
  if (argv[0] === "table") process.exit(await runTableCommand(argv.slice(1)));
  if (argv[0] === "compact" || argv[0] === "expire")
    process.exit(await runTableCommand([argv[0], ...argv.slice(1)]));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        manifest: { type: "string", default: DEFAULT_MANIFEST_PATH },
        port: { type: "string", default: "8080" },
        "edge-port": { type: "string", default: process.env.SLUICE_EDGE_PORT ?? "4566" },
        "grpc-port": { type: "string", default: "50051" },
        "state-dir": { type: "string", default: DEFAULT_STATE_DIR },
        reset: { type: "boolean", default: false },
        stage: { type: "string", default: DEFAULT_STAGE },
        region: { type: "string" },
        local: { type: "boolean", default: false },
        "idempotency-lock-seconds": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) fail(USAGE, command ? 0 : 2);
  const manifestPath = String(values.manifest);
  switch (command) {
    case "validate": {
      const stage = String(values.stage);
      if (!STAGE_PATTERN.test(stage)) fail(`--stage ${stage}: a stage ${STAGE_RULE}`, 2);
      const region = values.region === undefined ? undefined : String(values.region);
      const manifest = manifestOrExit(
        manifestPath,
        values.local ? undefined : { stage, ...(region === undefined ? {} : { region }) },
      );
      process.stdout.write(
        `${manifest.path}: ok (${manifest.streams.length} streams, ${manifest.pipelines.length} pipelines, ${manifest.sinks.length} sinks)\n`,
      );
      return;
    }
    case "dev": {
      const lock = values["idempotency-lock-seconds"];
      const lockSeconds = lock === undefined ? undefined : Number(lock);
      if (lockSeconds !== undefined && !(Number.isInteger(lockSeconds) && lockSeconds > 0)) {
        fail(`--idempotency-lock-seconds ${String(lock)} is not a positive whole number\n\n${USAGE}`, 2);
      }
      return dev({
        manifestPath,
        port: Number(values.port),
        edgePort: Number(values["edge-port"]),
        grpcPort: Number(values["grpc-port"]),
        stateDir: String(values["state-dir"]),
        reset: values.reset === true,
        ...(lockSeconds === undefined ? {} : { idempotencyLockSeconds: lockSeconds }),
      });
    }
    default:
      fail(`unknown command ${command}\n\n${USAGE}`, 2);
  }
}

await main(process.argv.slice(2));
