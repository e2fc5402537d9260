#!/usr/bin/env -S npx tsx
/**
 * The `sluice` command line.
 *   sluice dev [--manifest sluice.yaml] [--port 8080]   run the whole pipeline locally
 *   sluice validate [--manifest sluice.yaml]            check a manifest
 * Exit codes: 0 ok, 1 runtime failure, 2 invalid manifest or usage.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createLogger, type LogLevel } from "../functions/core/logger.ts";
import { DEFAULT_MANIFEST_PATH, loadManifest, ManifestError } from "../functions/core/manifest/index.ts";
import type { Manifest } from "../functions/core/manifest/types.ts";
import { type GrpcProxy, runGrpcProxy, startGrpcProxy } from "../functions/grpc-proxy/cli.ts";
import { customTransformNames } from "../functions/transform/custom.ts";
import { startLocalRunner } from "../localstack/lambda/local-runner.ts";
import { type EmbeddedStack, StackStartError, startEmbeddedStack } from "../localstack/stack.ts";

const DEV_KEY_FILE = ".sluice/dev-key";

const USAGE = `usage: sluice <command> [options]

commands:
  dev          start the embedded AWS stack (unless AWS_ENDPOINT_URL is set) and run the pipeline
  validate     validate the manifest and exit
  grpc-proxy   serve sluice.v1.IngestService in front of an ingest API (--target URL; --help for more)

options:
  --manifest <file>   manifest path (default: ${DEFAULT_MANIFEST_PATH})
  --port <n>          local ingest API port for dev (default: 8080)
  --grpc-port <n>     gRPC proxy port for dev (default: 50051; 0 turns it off)
  --edge-port <n>     embedded stack edge port for dev (default: 4566)
`;

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function manifestOrExit(path: string): Manifest {
  try {
    return loadManifest(path, { customTransforms: customTransformNames() });
  } catch (err) {
    if (err instanceof ManifestError) fail(err.message, 2);
    throw err;
  }
}

async function dev(manifestPath: string, port: number, edgePort: number, grpcPort: number): Promise<void> {
  const manifest = manifestOrExit(manifestPath);
  process.env.AWS_REGION ??= "us-east-1";
  process.env.AWS_ACCESS_KEY_ID ??= "test";
  process.env.AWS_SECRET_ACCESS_KEY ??= "test";
  process.env.AWS_REQUEST_CHECKSUM_CALCULATION ??= "WHEN_REQUIRED";

  let stack: EmbeddedStack | undefined;
  let endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    process.stdout.write("starting the embedded AWS stack...\n");
    try {
      stack = await startEmbeddedStack({ port: edgePort, dataDir: ".sluice/localstack" });
    } catch (err) {
      if (err instanceof StackStartError) fail(`error: ${err.message}\n${err.hint}`, 1);
      throw err;
    }
    endpoint = stack.endpoint;
  }
  const logger = createLogger("sluice-dev", (process.env.LOG_LEVEL as LogLevel | undefined) ?? "warn");
  let runner: Awaited<ReturnType<typeof startLocalRunner>>;
  try {
    runner = await startLocalRunner({ manifest, endpoint, httpPort: port, logger });
  } catch (err) {
    await stack?.stop();
    fail(`error: ${(err as Error).message}`, 1);
  }
  let grpc: GrpcProxy | undefined;
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
  if (runner.devKey) {
    mkdirSync(".sluice", { recursive: true });
    writeFileSync(DEV_KEY_FILE, `${runner.devKey}\n`, { mode: 0o600 });
  }
  const auth = runner.devKey ? ` -H "authorization: Bearer $(cat ${DEV_KEY_FILE})"` : "";
  const buckets = [...new Set(Object.values(runner.config.pipelines).map((p) => p.sink.bucket))];
  const firstStream = manifest.streams[0]?.name ?? "feedback";
  process.stdout.write(
    [
      "",
      `Sluice is running (manifest ${manifest.path}, app "${manifest.name}")`,
      `  AWS endpoint   ${endpoint}`,
      `  ingest API     ${runner.url}`,
      ...(grpc
        ? [`  gRPC proxy     127.0.0.1:${grpc.port}  (sluice.v1.IngestService, proto/sluice/v1/ingest.proto)`]
        : []),
      ...(runner.devKey
        ? [`  dev API key    ${runner.devKey}  (admin; also in ${DEV_KEY_FILE})`]
        : ["  auth           off (manifest auth.apiKeys: false)"]),
      `  send a record  curl -s -X POST ${runner.url}/v1/streams/${firstStream}/records${auth} -H 'content-type: application/json' -d @examples/feedback.json`,
      ...buckets.map((b) => `  Parquet lands  s3://${b}/  (on disk: .sluice/localstack/s3/${b}/)`),
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
      const manifest = manifestOrExit(manifestPath);
      process.stdout.write(
        `${manifest.path}: ok (${manifest.streams.length} streams, ${manifest.pipelines.length} pipelines, ${manifest.sinks.length} sinks)\n`,
      );
      return;
    }
    case "dev":
      return dev(manifestPath, Number(values.port), Number(values["edge-port"]), Number(values["grpc-port"]));
    default:
      fail(`unknown command ${command}\n\n${USAGE}`, 2);
  }
}

await main(process.argv.slice(2));
