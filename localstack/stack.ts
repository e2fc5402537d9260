import { rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startAthenaServer } from "./athena/server.ts";
import { assertJava, ensureDynamoDbLocal, startDynamoDb } from "./backends/dynamodb.ts";
import { startKinesis } from "./backends/kinesis.ts";
import { startS3 } from "./backends/s3.ts";
import { startCloudWatchServer } from "./cloudwatch/server.ts";
import { type EdgeServer, SERVICES, type ServiceName, type ServiceStatus, startEdge } from "./edge.ts";
import { StackStartError } from "./errors.ts";
import { startGlueServer } from "./glue/server.ts";
import { startKmsServer } from "./kms/server.ts";
import { CACHE_DIR } from "./paths.ts";
import { type ManagedProcess, registerCleanup } from "./process.ts";
import { startSqsServer } from "./sqs/server.ts";

export { StackStartError } from "./errors.ts";

export interface EmbeddedStackOptions {
  /** Edge port. 0 picks a free port. @default SLUICE_EDGE_PORT, else 4566 */
  port?: number;
  /** Where emulators keep data. @default a fresh temp dir */
  dataDir?: string;
  /**
   * Keep everything in `dataDir` across restarts, SIGKILL included: S3 objects, DynamoDB tables
   * (`dynamodb/`), Kinesis streams and records (`kinesis/`), KMS keys (`kms/keys.json`), the Glue
   * catalog (`glue/catalog.json`), SQS queues and messages (`sqs/queues.json`). Every answer a client gets describes state already on disk.
   * Requires `dataDir`.
   * @default false: a start begins empty
   */
  persist?: boolean;
  /** Progress lines (no secrets). @default no output */
  log?: (line: string) => void;
}

export interface EmbeddedStack {
  /** e.g. http://127.0.0.1:4566 */
  readonly endpoint: string;
  /** True when `persist` found the state of an earlier run in `dataDir` and carries on with it. */
  readonly resumed: boolean;
  /** Backend PIDs, for the CLI's pid file. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

export const DEFAULT_EDGE_PORT = 4566;

/** Marks a data dir that holds persisted state; its absence means "start fresh". */
const STATE_FILE = "state.json";

/**
 * Whether `dataDir` holds persisted state, claiming it for persistence if it does not (leftovers
 * of a non-persistent run are cleared: their streams, tables and keys are gone). A non-persistent
 * start refuses a folder with persisted state rather than empty its S3 objects.
 */
async function prepareDataDir(dataDir: string, persist: boolean): Promise<boolean> {
  const marker = path.join(dataDir, STATE_FILE);
  const persisted = await readFile(marker, "utf8").then(
    () => true,
    () => false,
  );
  if (!persist) {
    if (persisted) {
      throw new StackStartError(
        "STATE_DIR_IN_USE",
        `${dataDir} holds persisted state (from \`sluice dev\` or --persist)`,
        "Pass --persist to run on it, --data-dir to use another folder, or delete the folder to start over",
      );
    }
    return false;
  }
  if (persisted) return true;
  for (const part of ["s3", "s3.tmp", "dynamodb", "kinesis", "kms", "glue", "sqs"]) {
    await rm(path.join(dataDir, part), { recursive: true, force: true });
  }
  await mkdir(dataDir, { recursive: true });
  await writeFile(marker, `${JSON.stringify({ version: 1, createdAt: new Date().toISOString() })}\n`);
  return false;
}

interface RunningBackend {
  readonly service: ServiceName;
  readonly url: string;
  readonly process?: ManagedProcess;
  stop(): Promise<void>;
}

function portFromEnv(): number | undefined {
  const raw = process.env.SLUICE_EDGE_PORT;
  if (raw === undefined || raw === "") return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new StackStartError(
      "PORT_IN_USE",
      `SLUICE_EDGE_PORT="${raw}" is not a port number`,
      "Set it to 0-65535",
    );
  }
  return port;
}

async function openEdge(port: number, status: () => Record<ServiceName, ServiceStatus>): Promise<EdgeServer> {
  try {
    return await startEdge({ port, host: "127.0.0.1", status });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" || code === "EACCES") {
      throw new StackStartError(
        "PORT_IN_USE",
        code === "EACCES" ? `not allowed to listen on port ${port}` : `port ${port} is already in use`,
        `Stop the other process on port ${port} (a LocalStack container or another "npm run localstack"?), ` +
          "or set SLUICE_EDGE_PORT / pass --port to use another port",
      );
    }
    throw error;
  }
}

/**
 * Starts Kinesis, DynamoDB, S3, KMS, Glue, SQS, CloudWatch (metrics) and Athena emulators behind one AWS-compatible edge endpoint, the
 * stand-in for LocalStack where Docker is unavailable. The edge port is claimed first, so a taken
 * port fails fast without starting any backend.
 */
export async function startEmbeddedStack(options: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const log = options.log ?? (() => {});
  const persist = options.persist ?? false;
  if (persist && options.dataDir === undefined) throw new Error("startEmbeddedStack: persist needs dataDir");
  const startedAt = performance.now();
  const elapsed = (): string => `${Math.round(performance.now() - startedAt)} ms`;
  const requestedPort = options.port ?? portFromEnv() ?? DEFAULT_EDGE_PORT;

  const backends = new Map<ServiceName, RunningBackend>();
  const status = (): Record<ServiceName, ServiceStatus> => {
    const result = {} as Record<ServiceName, ServiceStatus>;
    for (const service of SERVICES) {
      const backend = backends.get(service);
      if (!backend) result[service] = "starting";
      else if (backend.process && !backend.process.running) result[service] = "error";
      else result[service] = "running";
    }
    return result;
  };

  const edge = await openEdge(requestedPort, status);
  const endpoint = `http://127.0.0.1:${edge.port}`;
  log(`edge listening on ${endpoint}`);

  // Checked before anything starts: a missing JVM is the likeliest failure and needs no cleanup.
  let java: string;
  try {
    java = await assertJava();
  } catch (error) {
    await edge.close();
    throw error;
  }

  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), "sluice-localstack-")));
  let resumed: boolean;
  try {
    resumed = await prepareDataDir(dataDir, persist);
  } catch (error) {
    await edge.close();
    throw error;
  }
  if (persist) log(resumed ? `resuming the state in ${dataDir}` : `fresh state in ${dataDir}`);
  const forgetDataDir = ownsDataDir
    ? registerCleanup(() => rmSync(dataDir, { recursive: true, force: true }))
    : () => {};
  let stopping = false;

  const register = (backend: RunningBackend): void => {
    backends.set(backend.service, backend);
    edge.setBackend(backend.service, backend.url);
    log(`${backend.service} ready (${elapsed()})`);
    backend.process?.exited.then((code) => {
      if (!stopping)
        log(`${backend.service} exited unexpectedly (code ${code})\n${backend.process?.outputTail()}`);
    });
  };

  const startDynamo = async (): Promise<void> => {
    const emulatorDir = await ensureDynamoDbLocal(CACHE_DIR, log);
    const ddb = await startDynamoDb(
      java,
      emulatorDir,
      persist ? { dbPath: path.join(dataDir, "dynamodb") } : {},
    );
    register({ service: "dynamodb", url: ddb.url, process: ddb.process, stop: () => ddb.process.stop() });
  };

  const results = await Promise.allSettled([
    startDynamo(),
    startKinesis(persist ? { persistDir: path.join(dataDir, "kinesis") } : {}).then((kinesis) =>
      register({ service: "kinesis", url: kinesis.url, process: kinesis.process, stop: kinesis.stop }),
    ),
    startS3(path.join(dataDir, "s3"), { keep: persist }).then((s3) =>
      register({ service: "s3", url: s3.url, stop: s3.stop }),
    ),
    startKmsServer(persist ? { keysFile: path.join(dataDir, "kms", "keys.json") } : {}).then((kms) =>
      register({ service: "kms", url: kms.url, stop: kms.stop }),
    ),
    startGlueServer(persist ? { catalogFile: path.join(dataDir, "glue", "catalog.json") } : {}).then((glue) =>
      register({ service: "glue", url: glue.url, stop: glue.stop }),
    ),
    startSqsServer(persist ? { stateFile: path.join(dataDir, "sqs", "queues.json") } : {}).then((sqs) =>
      register({ service: "sqs", url: sqs.url, stop: sqs.stop }),
    ),
    // Metrics are in memory only, even with persist: dashboards of a dev run, not records.
    startCloudWatchServer().then((cw) => register({ service: "cloudwatch", url: cw.url, stop: cw.stop })),
    // Stateless: its queries read Glue and S3 through the edge, and results live in memory.
    startAthenaServer({ endpoint }).then((athena) =>
      register({ service: "athena", url: athena.url, stop: athena.stop }),
    ),
  ]);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      await edge.close();
      await Promise.allSettled([...backends.values()].map((backend) => backend.stop()));
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
      forgetDataDir();
      log("stopped");
    })();
    return stopped;
  };

  const failure = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failure) {
    await stop();
    throw failure.reason;
  }
  log(`all services ready in ${elapsed()}`);

  return {
    endpoint,
    resumed,
    pids: [...backends.values()].flatMap((backend) => (backend.process ? [backend.process.pid] : [])),
    stop,
  };
}
