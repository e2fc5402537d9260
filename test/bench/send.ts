/**
 * `npm run bench -- send [--records 100000] [--kill-at 0.5] [--batch-size 500] [--concurrency 4]
 * [--shards 32] [--no-kill] [--timings]`: the proof at full size. `sluice send` (the CLI, in its own process) of an NDJSON
 * file into a local runner on the embedded stack, SIGKILLed once it reports `--kill-at` of the
 * records sent, then run again; the lake is counted with DuckDB and must hold each record exactly
 * once, with the re-run's accepted + duplicate equal to the file's lines. Reports records/s of each
 * phase (send, re-run, drain to Parquet) and exits 1 if the count is off. It runs on a provisioned
 * stream of `--shards` shards; `--shards 0` uses sluice.yaml's on-demand one (4 shards in
 * kinesis-mock), whose PutRecords slows with the records each shard holds.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { MiddlewareStack } from "@smithy/types";
import { useLocalStackDefaults } from "../../bin/local-env.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { type EmbeddedStack, startEmbeddedStack } from "../../localstack/stack.ts";
import { assertExactlyOnce, countLake, feedback } from "../faults/lake.ts";
import { uniqueApp } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

export interface SendRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
  /** The largest "sent N/" a progress line reported. */
  readonly reported: number;
  readonly seconds: number;
  readonly tally?: { accepted: number; duplicate: number; rejected: number };
}

/** Runs `sluice send` as a child; `killAt` SIGKILLs it once it reports that many records sent. */
export function runSend(
  runner: LocalRunner,
  path: string,
  o: { batchSize: number; concurrency: number; killAt?: number; extraArgs?: string[] },
): Promise<SendRun> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      ...(o.extraArgs ?? []),
      "bin/sluice.ts",
      "send",
      "feedback",
      path,
      "--url",
      runner.url,
      "--key",
      runner.devKey ?? "",
      "--batch-size",
      String(o.batchSize),
      "--concurrency",
      String(o.concurrency),
      "--progress-every",
      "0.1",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let reported = 0;
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    for (const m of String(d).matchAll(/sent (\d+)\//g)) reported = Math.max(reported, Number(m[1]));
    if (o.killAt !== undefined && reported >= o.killAt) child.kill("SIGKILL");
  });
  return new Promise((resolve) =>
    child.on("close", (code, signal) => {
      const m = /(\d+) accepted, (\d+) duplicate, (\d+) rejected/.exec(out);
      resolve({
        code,
        signal,
        out,
        reported,
        seconds: (performance.now() - started) / 1000,
        ...(m ? { tally: { accepted: Number(m[1]), duplicate: Number(m[2]), rejected: Number(m[3]) } } : {}),
      });
    }),
  );
}

/** A file of `n` valid feedback records, each marked `${tag}-${line}`. */
export function writeMarkedFile(tag: string, n: number): { path: string; markers: string[] } {
  const markers = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  const path = join(mkdtempSync(join(tmpdir(), "sluice-send-")), "records.ndjson");
  writeFileSync(path, `${markers.map((m) => JSON.stringify(feedback(m))).join("\n")}\n`);
  return { path, markers };
}

/** sluice.yaml on a provisioned stream of `shards` shards, in a temp folder. */
function provisionedManifest(shards: number): string {
  const text = readFileSync("sluice.yaml", "utf8")
    .replace(/kinesis:\n {2}mode: on-demand\n/, `kinesis:\n  mode: provisioned\n  shards: ${shards}\n`)
    .replace("file: schemas/", `file: ${resolve("schemas")}/`);
  if (!text.includes(`shards: ${shards}`))
    throw new Error("sluice.yaml has no on-demand kinesis block to replace");
  const path = join(mkdtempSync(join(tmpdir(), "sluice-bench-")), "sluice.yaml");
  writeFileSync(path, text);
  return path;
}

/** Wall time per AWS command (name -> calls, ms summed over concurrent calls), for `--timings`. */
function timeCommands(runner: LocalRunner): Map<string, { calls: number; ms: number }> {
  const spent = new Map<string, { calls: number; ms: number }>();
  const clients = runner.clients;
  const all = {
    kinesis: clients.kinesis,
    kinesisPut: clients.kinesisPut,
    dynamo: clients.dynamo,
    s3: clients.s3,
  };
  for (const [service, client] of Object.entries(all)) {
    // The clients' stacks differ in their command types; timing reads none of them.
    (client.middlewareStack as unknown as MiddlewareStack<object, object>).add(
      (next, context) => async (a) => {
        const started = performance.now();
        try {
          return await next(a);
        } finally {
          const name = `${service} ${context.commandName}`;
          const s = spent.get(name) ?? { calls: 0, ms: 0 };
          s.calls++;
          s.ms += performance.now() - started;
          spent.set(name, s);
        }
      },
      { step: "initialize", name: "benchTiming" },
    );
  }
  return spent;
}

export async function benchSend(args: string[]): Promise<void> {
  const records = option(args, "records", 100_000);
  const killAt = args.includes("--no-kill") ? undefined : Math.floor(records * option(args, "kill-at", 0.5));
  const batchSize = option(args, "batch-size", 500);
  const concurrency = option(args, "concurrency", 4);
  useLocalStackDefaults();
  let stack: EmbeddedStack | undefined;
  if (!process.env.AWS_ENDPOINT_URL) {
    stack = await startEmbeddedStack({ port: 0 });
    process.env.AWS_ENDPOINT_URL = stack.endpoint;
  }
  // kinesis-mock's PutRecords slows with the records each shard holds (4 in an on-demand stream):
  // 100,000 records over 32 shards keep it near 400 records/s; `--shards 0` uses sluice.yaml's.
  const shards = option(args, "shards", 32);
  const runner = await startTestRunner("bench-send", {
    idempotencyLockSeconds: 3,
    ...(shards > 0 ? { manifestPath: provisionedManifest(shards) } : {}),
  });
  const spent = args.includes("--timings") ? timeCommands(runner) : undefined;
  try {
    const tag = uniqueApp("b");
    const { path, markers } = writeMarkedFile(tag, records);
    const opts = { batchSize, concurrency };
    const line = (what: string, n: number, s: number) =>
      process.stdout.write(
        `${what.padEnd(34)} ${String(n).padStart(7)} records ${s.toFixed(1).padStart(7)} s ${(n / s).toFixed(0).padStart(6)} rec/s\n`,
      );
    process.stdout.write(
      `sluice send of ${records} records, batches of ${batchSize}, ${concurrency} in flight\n`,
    );
    const first = await runSend(runner, path, { ...opts, ...(killAt === undefined ? {} : { killAt }) });
    let final = first;
    if (killAt !== undefined) {
      assert.equal(first.signal, "SIGKILL", `the first run ended on its own: ${first.out}`);
      line("first run, SIGKILLed at", first.reported, first.seconds);
      final = await runSend(runner, path, opts);
      line("re-run (duplicates + the rest)", records, final.seconds);
    } else line("send", records, first.seconds);
    assert.equal(final.code, 0, final.out);
    assert.ok(final.tally, final.out);
    assert.equal(final.tally.accepted + final.tally.duplicate, records, final.out);
    assert.equal(final.tally.rejected, 0, final.out);
    if (killAt !== undefined) assert.ok(final.tally.duplicate >= first.reported, final.out);
    const drainAt = performance.now();
    await runner.drained(600_000);
    const drained = (performance.now() - drainAt) / 1000;
    line("drain to Parquet after the send", records, drained);
    const count = await countLake(
      runner,
      runner.config.pipelines["feedback-lake"]!.sink.bucket,
      "feedback-lake",
    );
    const ours = new Map([...count.data].filter(([k]) => k.startsWith(`${tag}-`)));
    const figures = assertExactlyOnce({ ...count, data: ours }, markers, () => "data");
    process.stdout.write(
      `lake (DuckDB): ${figures.markers} markers, ${figures.missing} missing, ${figures.duplicated} twice, ` +
        `${count.dataKeys.length} files; re-run ${final.tally.accepted} accepted + ${final.tally.duplicate} duplicate\n`,
    );
    for (const [name, s] of [...(spent ?? [])].sort((a, b) => b[1].ms - a[1].ms)) {
      process.stdout.write(
        `${name.padEnd(40)} ${String(s.calls).padStart(6)} calls ${(s.ms / 1000).toFixed(1).padStart(7)} s ${(s.ms / s.calls).toFixed(1).padStart(7)} ms/call\n`,
      );
    }
  } finally {
    await runner.stop();
    await stack?.stop();
  }
}
