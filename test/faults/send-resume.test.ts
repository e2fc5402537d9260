/**
 * `sluice send` killed half way (SIGKILL: no cleanup, requests in flight) and run again: every
 * record is in the lake exactly once, counted with DuckDB. The keys come from the file and line,
 * so the second run's resends of what the first got through are duplicates, not new records.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { uniqueApp } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";
import { assertExactlyOnce, countLake, feedback } from "./lake.ts";

/**
 * The embedded Kinesis (kinesis-mock) bounds the speed: its PutRecords alone ran at ~320 records/s
 * on an empty stream and fell to ~130 at 12,000 records and ~25 at 22,000 on this loaded 2-core
 * machine, so 600 records in 6 requests keep this lean and still leave a kill in the middle. The
 * same proof at 100,000 records is `npm run bench -- send` (test/bench/send.ts).
 */
const RECORDS = 600;

let runner: LocalRunner;
before(async () => {
  // A claim left by the killed run blocks its key this long; retries wait it out (409 IN_PROGRESS).
  runner = await startTestRunner("resume", { idempotencyLockSeconds: 3 });
});
after(async () => {
  await runner?.stop();
});

function sendProcess(path: string, onErr: (text: string) => void) {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "bin/sluice.ts",
      "send",
      "feedback",
      path,
      "--url",
      runner.url,
      "--key",
      runner.devKey ?? "",
      "--batch-size",
      "100",
      "--concurrency",
      "2",
      "--progress-every",
      "0.1",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => onErr(String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, out })),
  );
  return { child, exited };
}

test(`a send of ${RECORDS} records killed half way and run again puts each record in the lake exactly once`, async (t) => {
  const tag = uniqueApp("kill");
  const markers = Array.from({ length: RECORDS }, (_, i) => `${tag}-${i}`);
  const path = join(mkdtempSync(join(tmpdir(), "sluice-resume-")), "big.ndjson");
  writeFileSync(path, `${markers.map((m) => JSON.stringify(feedback(m))).join("\n")}\n`);

  let done = 0;
  const first = sendProcess(path, (text) => {
    for (const m of text.matchAll(/sent (\d+)\//g)) done = Math.max(done, Number(m[1]));
    if (done >= RECORDS * 0.4) first.child.kill("SIGKILL");
  });
  const killed = await first.exited;
  assert.equal(killed.signal, "SIGKILL", `the first run ended on its own: ${killed.out}`);
  assert.ok(done < RECORDS, `killed after ${done} of ${RECORDS}`);

  const resumedAt = performance.now();
  const second = sendProcess(path, () => {});
  const finished = await second.exited;
  const sendSeconds = (performance.now() - resumedAt) / 1000;
  assert.equal(finished.code, 0, finished.out);
  const m = /(\d+) accepted, (\d+) duplicate, (\d+) rejected/.exec(finished.out);
  assert.ok(m, finished.out);
  const [accepted, duplicate, rejected] = [Number(m[1]), Number(m[2]), Number(m[3])];
  assert.equal(accepted + duplicate, RECORDS);
  assert.equal(rejected, 0);
  assert.ok(duplicate >= done, `the re-run found ${duplicate} already sent; the first run reported ${done}`);

  t.diagnostic(`re-run: ${accepted} accepted, ${duplicate} duplicate in ${sendSeconds.toFixed(1)} s`);
  const drainAt = performance.now();
  await runner.drained(120_000);
  t.diagnostic(`drained in ${((performance.now() - drainAt) / 1000).toFixed(1)} s`);
  const count = await countLake(
    runner,
    runner.config.pipelines["feedback-lake"]!.sink.bucket,
    "feedback-lake",
  );
  const figures = assertExactlyOnce({ ...count, data: onlyOurs(count.data, tag) }, markers, () => "data");
  assert.equal(figures.markers, RECORDS);
});

function onlyOurs(data: Map<string, number>, tag: string): Map<string, number> {
  return new Map([...data].filter(([k]) => k.startsWith(`${tag}-`)));
}
