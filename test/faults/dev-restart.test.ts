/**
 * `sluice dev` survives kill -9: the real dev runner (its own embedded stack, persisting under a
 * temporary --state-dir) is SIGKILLed as a whole process group three times while a producer sends
 * marked records with idempotency keys and retries what got no definitive answer, as a real one
 * would. Kills land right after an acknowledgement (records still only in Kinesis), in the middle
 * of a request, and between the files of a batch. After the last restart every accepted marker is
 * in the lake exactly once (data or errors/), and the dev key of the first start still works.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createAwsClients } from "../../functions/core/aws-clients.ts";
import { sleep } from "../../functions/core/backoff.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { freePort } from "../../localstack/process.ts";
import { assertExactlyOnce, countLake, type Marked, marked, type RecordAnswer, sortAnswers } from "./lake.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const MANIFEST = "test/fixtures/manifests/dev-restart.yaml";

interface DevRun {
  readonly child: ChildProcess;
  readonly endpoint: string;
  readonly url: string;
  readonly key: string;
  readonly keyWas: "new" | "the same as before";
  readonly state: "fresh" | "resumed";
  readonly bucket: string;
  readonly startMs: number;
}

const stateDir = mkdtempSync(path.join(tmpdir(), "sluice-dev-restart-"));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) killGroup(child);
  rmSync(stateDir, { recursive: true, force: true });
});

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL to the runner and every process it started (one process group). */
function killGroup(child: ChildProcess): void {
  if (child.pid !== undefined && groupAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
}

async function groupGone(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (child.pid !== undefined && groupAlive(child.pid)) {
    assert.ok(Date.now() < deadline, "the killed process group is still alive");
    await sleep(20);
  }
}

/** Starts `sluice dev` on the shared state dir and waits for its banner. */
async function startDev(port: number): Promise<DevRun> {
  const env = { ...process.env };
  // The suite's stack is not this runner's: it must start (and persist) its own.
  delete env.AWS_ENDPOINT_URL;
  const startedAt = Date.now();
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "bin/sluice.ts",
      "dev",
      "--manifest",
      MANIFEST,
      "--state-dir",
      // Relative, as `.sluice` is by default: children that run elsewhere must still find it.
      path.relative(REPO, stateDir),
      "--port",
      String(port),
      "--edge-port",
      "0",
      "--grpc-port",
      "0",
      // Claims a kill leaves IN_PROGRESS are taken over after this, not after 60 s.
      "--idempotency-lock-seconds",
      "3",
    ],
    { cwd: REPO, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString("utf8")));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString("utf8")));
  const deadline = Date.now() + 60_000;
  while (!output.includes("Ctrl-C stops everything.")) {
    assert.ok(child.exitCode === null && child.signalCode === null, `sluice dev exited:\n${output}`);
    assert.ok(Date.now() < deadline, `sluice dev was not ready in 60 s:\n${output}`);
    await sleep(50);
  }
  const field = (pattern: RegExp): string => {
    const value = pattern.exec(output)?.[1];
    assert.ok(value, `${pattern} not in the banner:\n${output}`);
    return value;
  };
  return {
    child,
    endpoint: field(/AWS endpoint\s+(\S+)/),
    url: field(/ingest API\s+(\S+)/),
    key: field(/dev API key\s+(sk_\S+)/),
    keyWas: field(/dev API key\s+\S+\s+\(admin; (new|the same as before),/) as DevRun["keyWas"],
    state: field(/state\s+(fresh|resumed)/) as DevRun["state"],
    bucket: field(/Parquet lands\s+s3:\/\/([^/\s]+)\//),
    startMs: Date.now() - startedAt,
  };
}

/**
 * A producer that keeps sending 10 marked records per request and retries what got no
 * definitive answer (a dropped connection, 5xx, IN_PROGRESS) with the same keys until answered.
 */
function startProducer(url: string, key: string) {
  const accepted = new Map<string, string>();
  const rejected = new Map<string, string>();
  const state = { inFlight: false, stopping: false, requests: 0, retries: 0 };
  let afterAnswer: (() => void) | undefined;

  async function sendUntilAnswered(records: readonly Marked[]): Promise<void> {
    let open = [...records];
    const until = Date.now() + 60_000;
    while (open.length > 0) {
      assert.ok(Date.now() < until, `${open.length} records got no definitive answer in 60 s`);
      let results: RecordAnswer[] | undefined;
      state.inFlight = true;
      state.requests++;
      try {
        const res = await fetch(`${url}/v1/streams/feedback/records`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({ records: open.map((r) => ({ data: r.data, key: r.key })) }),
          signal: AbortSignal.timeout(15_000),
        });
        results = ((await res.json()) as { results?: typeof results }).results;
      } catch {
        results = undefined;
      } finally {
        state.inFlight = false;
      }
      const again = sortAnswers(open, results, accepted, rejected);
      if (again.length > 0) {
        state.retries++;
        await sleep(200);
      }
      open = again;
    }
  }

  const done = (async () => {
    for (let chunk = 0; !state.stopping; chunk++) {
      await sendUntilAnswered(marked(`dr${chunk}`, 10));
      const hook = afterAnswer;
      afterAnswer = undefined;
      hook?.();
    }
  })();

  return {
    accepted,
    rejected,
    state,
    done,
    /** Runs `hook` synchronously as soon as the next request is fully answered. */
    onNextAnswer(hook: () => void): void {
      afterAnswer = hook;
    },
    async acceptedAtLeast(n: number): Promise<void> {
      const deadline = Date.now() + 30_000;
      while (accepted.size < n) {
        assert.ok(Date.now() < deadline, `only ${accepted.size} of ${n} records accepted`);
        await sleep(20);
      }
    },
  };
}

function parquetObjects(dir: string): number {
  let n = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith(".parquet._S3rver_object")) n++;
  }
  return n;
}

test("kill -9 of the whole dev runner, three times: every accepted record lands exactly once and the first dev key still works", async (t) => {
  const started = Date.now();
  const port = await freePort();
  let dev = await startDev(port);
  assert.equal(dev.state, "fresh");
  assert.equal(dev.keyWas, "new");
  const firstKey = dev.key;
  const starts = [dev.startMs];
  const producer = startProducer(dev.url, firstKey);

  const restart = async (): Promise<void> => {
    await groupGone(dev.child);
    dev = await startDev(port);
    starts.push(dev.startMs);
    assert.equal(dev.state, "resumed", "a restart carries on with the persisted state");
    assert.equal(dev.key, firstKey, "a restart keeps the dev key");
    assert.equal(dev.keyWas, "the same as before");
  };

  // 1: right after an acknowledgement: the records are in Kinesis, not yet delivered.
  await producer.acceptedAtLeast(30);
  const killed = new Promise<void>((resolve) =>
    producer.onNextAnswer(() => {
      killGroup(dev.child);
      resolve();
    }),
  );
  await killed;
  const acceptedBeforeFirstKill = producer.accepted.size;
  await restart();

  // 2: in the middle of a request (claims taken, PutRecords maybe done, answer not given).
  await producer.acceptedAtLeast(producer.accepted.size + 30);
  while (!producer.state.inFlight) await sleep(1);
  killGroup(dev.child);
  await restart();

  // 3: between the files of a batch: the first new data file is on disk, the commit is not.
  const s3Dir = path.join(stateDir, "localstack", "s3", dev.bucket);
  await producer.acceptedAtLeast(producer.accepted.size + 30);
  const files = parquetObjects(s3Dir);
  const deadline = Date.now() + 20_000;
  while (parquetObjects(s3Dir) === files) {
    assert.ok(Date.now() < deadline, "no new data file in 20 s");
    await sleep(5);
  }
  killGroup(dev.child);
  await restart();

  await producer.acceptedAtLeast(producer.accepted.size + 20);
  producer.state.stopping = true;
  await producer.done;
  assert.deepEqual([...producer.rejected], [], "no record was refused");
  assert.ok(acceptedBeforeFirstKill >= 30);

  // The first key still authenticates; a made-up one does not (auth is really on).
  const describeStream = (key: string) =>
    fetch(`${dev.url}/v1/streams/feedback`, { headers: { authorization: `Bearer ${key}` } }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.status;
      },
    );
  assert.equal(await describeStream(firstKey), 200);
  assert.equal(await describeStream(`sk_${"A".repeat(43)}`), 401);

  // Read the lake through the restarted stack's S3 until every accepted marker is there.
  const reader = { clients: createAwsClients({ endpoint: dev.endpoint, region: "us-east-1" }) };
  const lake = () => countLake(reader as Pick<LocalRunner, "clients"> as LocalRunner, dev.bucket);
  const markers = [...producer.accepted.keys()];
  const landed = (count: Awaited<ReturnType<typeof lake>>) =>
    markers.filter((m) => (count.data.get(m) ?? 0) + (count.errors.get(m) ?? 0) > 0).length;
  let count = await lake();
  const until = Date.now() + 45_000;
  while (landed(count) < markers.length && Date.now() < until) {
    await sleep(500);
    count = await lake();
  }
  // Two more batch windows: a copy delivered late would show up here.
  await sleep(2_500);
  count = await lake();
  const figures = assertExactlyOnce(count, markers);
  assert.equal(figures.markers, producer.accepted.size);
  t.diagnostic(
    `accepted ${figures.markers} (${producer.state.requests} requests, ${producer.state.retries} retried), ` +
      `missing ${figures.missing}, duplicated ${figures.duplicated}, data files ${count.dataKeys.length}, ` +
      `error lines ${count.errorLines.length}; starts ${starts.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ")}; ` +
      `total ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  killGroup(dev.child);
  await groupGone(dev.child);
});
