import { once } from "node:events";
import { copyFile, mkdir, open, rename, rm, stat } from "node:fs/promises";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { backendFailed } from "../errors.ts";
import {
  freePort,
  jsonCallOk,
  listenOnLoopback,
  type ManagedProcess,
  spawnManaged,
  waitUntilReady,
} from "../process.ts";

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

/** kinesis-mock's own file (PERSIST_FILE_NAME); it rewrites it in place, so a kill can tear it. */
const SNAPSHOT_FILE = "kinesis-data.json";
/** kinesis-mock logs these (at DEBUG) around each write of its snapshot. */
const WRITE_STARTED = "Persisting stream data to disk";
const WRITE_DONE = "Successfully persisted stream data";

/**
 * Operations whose answers reveal nothing that might not be on disk yet. Every other successful
 * answer waits for the snapshot, GetRecords too when it returns records: a consumer that delivered
 * and checkpointed a record the emulator then forgot would, after a restart, see later records
 * reuse its sequence number (kinesis-mock counts positions per shard) and skip them as delivered.
 */
const NEEDS_NO_DISK = new Set([
  "DescribeAccountSettings",
  "DescribeLimits",
  "DescribeStream",
  "DescribeStreamConsumer",
  "DescribeStreamSummary",
  "GetResourcePolicy",
  "GetShardIterator",
  "ListShards",
  "ListStreamConsumers",
  "ListStreams",
  "ListTagsForResource",
  "ListTagsForStream",
  // An event stream: passed through as it comes (Sluice does not use it).
  "SubscribeToShard",
]);
const EMPTY_RECORDS = /"Records"\s*:\s*\[\s*\]/;

export interface KinesisOptions {
  /**
   * Keep streams and records in this folder across restarts (`kinesis-data.json`). Answers that
   * change or reveal state are held until a snapshot that contains them is on disk.
   * @default in memory only
   */
  readonly persistDir?: string;
  /** How often kinesis-mock writes its snapshot (PERSIST_INTERVAL). @default 200 */
  readonly persistIntervalMs?: number;
  /** How long an answer waits for the snapshot before the client gets a 503 instead. @default 5000 */
  readonly holdTimeoutMs?: number;
}

export interface KinesisBackend {
  readonly url: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** After a state-changing call, snapshots are committed this long even if nobody waits (async transitions). */
const ACTIVE_WINDOW_MS = 3_000;

/**
 * Turns kinesis-mock's in-place snapshot writes into durable points. After a write it reports
 * done, the file is copied and renamed over `kinesis-data.json` next to the live folder, so a kill
 * mid-write never costs the last good snapshot. kinesis-mock takes a snapshot only after sleeping
 * `intervalNs` since its last write finished, so once write B is committed, every answer that left
 * the emulator before (mtime of an earlier finished write A) + intervalNs is in B. While nothing
 * changes and nobody waits, writes are only observed (two stats), not copied.
 */
class SnapshotCommits {
  /** mtime (ns) of the last write seen finished. */
  private lastFinished: bigint | undefined;
  private committedOnce = false;
  /** Answers that left the emulator up to this instant (ns, wall clock) are on disk. */
  private durableUntil = -1n;
  private lastActivityMs = 0;
  private writing = false;
  private busy = false;
  private again = false;
  private closed = false;
  private readonly waiters = new Set<{ atNs: bigint; done: (ok: boolean) => void }>();

  constructor(
    private readonly liveFile: string,
    private readonly committedFile: string,
    private readonly intervalNs: bigint,
  ) {}

  onLine(line: string): void {
    if (line.includes(WRITE_STARTED)) this.writing = true;
    else if (line.includes(WRITE_DONE)) {
      this.writing = false;
      this.handleWriteDone();
    }
  }

  /** A call that may change state went through: keep committing for a while. */
  noteActivity(): void {
    this.lastActivityMs = Date.now();
  }

  /** Resolves true once an answer that left the emulator now is on disk; false on timeout or close. */
  waitDurable(timeoutMs: number): Promise<boolean> {
    // Date.now() floors to the millisecond: the answer left at most 1 ms later than it says.
    const atNs = BigInt(Date.now() + 1) * 1_000_000n;
    if (atNs <= this.durableUntil) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = {
        atNs,
        done: (ok: boolean) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => waiter.done(false), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.done(false);
  }

  private handleWriteDone(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    const copy =
      !this.committedOnce || this.waiters.size > 0 || Date.now() - this.lastActivityMs < ACTIVE_WINDOW_MS;
    void this.take(copy)
      .catch(() => undefined)
      .finally(() => {
        this.busy = false;
        if (this.again && !this.closed) {
          this.again = false;
          this.handleWriteDone();
        }
      });
  }

  /** Notes the write just finished and, if `copy`, commits it. A write caught in progress is skipped. */
  private async take(copy: boolean): Promise<void> {
    const before = await stat(this.liveFile, { bigint: true }).catch(() => undefined);
    if (!before || before.size === 0n || before.mtimeNs === this.lastFinished) return;
    const tmp = `${this.committedFile}.tmp`;
    if (copy) await copyFile(this.liveFile, tmp);
    else await new Promise((resolve) => setTimeout(resolve, 5));
    const after = await stat(this.liveFile, { bigint: true });
    // The next write began meanwhile: what we saw may be half a file; the next "done" tries again.
    if (this.writing || after.mtimeNs !== before.mtimeNs || after.size !== before.size) return;
    const earlier = this.lastFinished;
    if (!copy) {
      this.lastFinished = before.mtimeNs;
      return;
    }
    if (!(await endsWithBrace(tmp))) return;
    await rename(tmp, this.committedFile);
    this.committedOnce = true;
    this.lastFinished = before.mtimeNs;
    if (earlier === undefined || earlier >= before.mtimeNs) return;
    // A write's mtime is no later than its end, and the next snapshot is taken intervalNs after
    // that (10 ms off for timer and clock granularity).
    const until = earlier + this.intervalNs - 10_000_000n;
    if (until <= this.durableUntil) return;
    this.durableUntil = until;
    for (const waiter of [...this.waiters]) if (waiter.atNs <= until) waiter.done(true);
  }
}

async function endsWithBrace(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] === 0x7d;
  } finally {
    await handle.close();
  }
}

function operationOf(req: http.IncomingMessage): string {
  const target = req.headers["x-amz-target"];
  return typeof target === "string" ? target.slice(target.indexOf(".") + 1) : "";
}

function hopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || ["connection", "keep-alive", "transfer-encoding"].includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * A pass-through in front of kinesis-mock that holds each answer which changes or reveals state
 * until the snapshot that contains it is on disk, so whatever a client was told survives SIGKILL.
 */
async function startDurableProxy(
  upstreamPort: number,
  commits: SnapshotCommits,
  holdTimeoutMs: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    const operation = operationOf(req);
    if (!NEEDS_NO_DISK.has(operation)) commits.noteActivity();
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: upstreamPort,
        method: req.method,
        path: req.url,
        headers: hopByHop(req.headers),
        agent,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        if (NEEDS_NO_DISK.has(operation) || status >= 300) {
          res.writeHead(status, hopByHop(answer.headers));
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("error", () => res.destroy());
        answer.on("end", () => {
          const body = Buffer.concat(chunks);
          const reveals = operation !== "GetRecords" || !EMPTY_RECORDS.test(body.toString("utf8"));
          const send = (durable: boolean): void => {
            if (!durable) {
              // The emulator did the work but cannot show it is on disk: the client must not take
              // it as done (a retry may write a record twice; ingest marks such retries).
              const payload = JSON.stringify({
                __type: "ServiceUnavailable",
                message: `the emulator did not persist this ${operation} within ${holdTimeoutMs} ms`,
              });
              res.writeHead(503, { "content-type": "application/x-amz-json-1.1" });
              res.end(payload);
              return;
            }
            const headers = hopByHop(answer.headers);
            headers["content-length"] = body.length;
            res.writeHead(status, headers);
            res.end(body);
          };
          if (!reveals) send(true);
          else void commits.waitDurable(holdTimeoutMs).then(send);
        });
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify({ __type: "InternalFailure", message: "kinesis-mock did not answer" }));
      } else res.destroy();
    });
    req.pipe(upstream);
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      commits.close();
      server.closeAllConnections();
      server.close();
      agent.destroy();
      await once(server, "close");
    },
  };
}

export async function startKinesis(options: KinesisOptions = {}): Promise<KinesisBackend> {
  const packageDir = path.dirname(createRequire(import.meta.url).resolve("kinesis-local/package.json"));
  const [plainPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  // Absolute: kinesis-mock runs in its package folder and would read a relative path from there.
  const persistDir = options.persistDir === undefined ? undefined : path.resolve(options.persistDir);
  const intervalMs = options.persistIntervalMs ?? 200;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KINESIS_MOCK_PLAIN_PORT: String(plainPort),
    KINESIS_MOCK_TLS_PORT: String(tlsPort),
    AWS_ACCOUNT_ID: "000000000000",
    AWS_REGION: "us-east-1",
    SHOULD_PERSIST_DATA: "false",
    LOG_LEVEL: "WARN",
    // kinesis-mock's defaults (50 shards, 10 on-demand streams) are far below an account's quota;
    // a test run creates a stream per runner, and a dev state dir keeps every app's stream.
    SHARD_LIMIT: "5000",
    ON_DEMAND_STREAM_COUNT_LIMIT: "500",
  };
  for (const name of FAST_TRANSITIONS) env[name] = "100ms";
  // The host's NODE_OPTIONS may carry loaders (tsx) that would slow a 9 MB bundle for nothing.
  delete env.NODE_OPTIONS;

  let commits: SnapshotCommits | undefined;
  if (persistDir !== undefined) {
    // kinesis-mock writes into live/; the last whole snapshot is kept one level up.
    const liveDir = path.join(persistDir, "live");
    const committed = path.join(persistDir, SNAPSHOT_FILE);
    await mkdir(liveDir, { recursive: true });
    const liveFile = path.join(liveDir, SNAPSHOT_FILE);
    const restored = await copyFile(committed, liveFile).then(
      () => true,
      () => false,
    );
    if (!restored) await rm(liveFile, { force: true });
    commits = new SnapshotCommits(liveFile, committed, BigInt(intervalMs) * 1_000_000n);
    Object.assign(env, {
      SHOULD_PERSIST_DATA: "true",
      LOAD_DATA_IF_EXISTS: "true",
      PERSIST_PATH: liveDir,
      PERSIST_FILE_NAME: SNAPSHOT_FILE,
      PERSIST_INTERVAL: `${intervalMs}ms`,
      // The only way to learn when a snapshot write has finished.
      LOG_LEVEL: "DEBUG",
    });
  }

  const proc = spawnManaged({
    name: "Kinesis (kinesis-mock)",
    command: process.execPath,
    args: ["main.js"],
    // main.js reads its TLS certificate from ./server.json.
    cwd: packageDir,
    env,
    // Its graceful shutdown takes ~2 s for nothing: with persistence, what it acknowledged is
    // already in the committed snapshot, and a write it tears on the way down is never read.
    stopGraceMs: 300,
    ...(commits ? { onLine: (line: string) => commits.onLine(line) } : {}),
  });
  const mockUrl = `http://127.0.0.1:${plainPort}`;
  try {
    await waitUntilReady(
      proc,
      () => jsonCallOk(mockUrl, "Kinesis_20131202.ListStreams", "kinesis"),
      READY_TIMEOUT_MS,
    );
  } catch (error) {
    await proc.stop();
    throw backendFailed(
      "Kinesis",
      error,
      persistDir === undefined
        ? `Check that ${packageDir}/main.js runs: node main.js`
        : `Check that ${packageDir}/main.js runs and that ${persistDir} holds a valid ${SNAPSHOT_FILE} (or delete it)`,
    );
  }
  if (!commits) return { url: mockUrl, process: proc, stop: () => proc.stop() };

  const proxy = await startDurableProxy(plainPort, commits, options.holdTimeoutMs ?? 5_000);
  return {
    url: proxy.url,
    process: proc,
    stop: async () => {
      await proxy.close();
      await proc.stop();
    },
  };
}
