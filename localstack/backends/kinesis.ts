import { createRequire } from "node:module";
import path from "node:path";
import { backendFailed } from "../errors.ts";
import { freePort, jsonCallOk, type ManagedProcess, spawnManaged, waitUntilReady } from "../process.ts";

const READY_TIMEOUT_MS = 30_000;

/** kinesis-mock simulates AWS's asynchronous state changes; tests want them near-instant. */
const FAST_TRANSITIONS = [
  "CREATE_STREAM_DURATION",
  "DELETE_STREAM_DURATION",
  "REGISTER_STREAM_CONSUMER_DURATION",
  "DEREGISTER_STREAM_CONSUMER_DURATION",
  "START_STREAM_ENCRYPTION_DURATION",
  "STOP_STREAM_ENCRYPTION_DURATION",
  "MERGE_SHARDS_DURATION",
  "SPLIT_SHARD_DURATION",
  "UPDATE_SHARD_COUNT_DURATION",
  "UPDATE_STREAM_MODE_DURATION",
] as const;

export interface KinesisBackend {
  readonly url: string;
  readonly process: ManagedProcess;
}

export async function startKinesis(): Promise<KinesisBackend> {
  const packageDir = path.dirname(createRequire(import.meta.url).resolve("kinesis-local/package.json"));
  const [plainPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KINESIS_MOCK_PLAIN_PORT: String(plainPort),
    KINESIS_MOCK_TLS_PORT: String(tlsPort),
    AWS_ACCOUNT_ID: "000000000000",
    AWS_REGION: "us-east-1",
    SHOULD_PERSIST_DATA: "false",
    LOG_LEVEL: "WARN",
  };
  for (const name of FAST_TRANSITIONS) env[name] = "100ms";
  // The host's NODE_OPTIONS may carry loaders (tsx) that would slow a 9 MB bundle for nothing.
  delete env.NODE_OPTIONS;

  const proc = spawnManaged({
    name: "Kinesis (kinesis-mock)",
    command: process.execPath,
    args: ["main.js"],
    // main.js reads its TLS certificate from ./server.json.
    cwd: packageDir,
    env,
    // Its graceful shutdown takes ~2 s and there is nothing to flush (persistence is off).
    stopGraceMs: 300,
  });
  const url = `http://127.0.0.1:${plainPort}`;
  try {
    await waitUntilReady(
      proc,
      () => jsonCallOk(url, "Kinesis_20131202.ListStreams", "kinesis"),
      READY_TIMEOUT_MS,
    );
  } catch (error) {
    await proc.stop();
    throw backendFailed("Kinesis", error, `Check that ${packageDir}/main.js runs: node main.js`);
  }
  return { url, process: proc };
}
