/**
 * Poison records and the batches they used to cost, driven in-process: a transformer that fails
 * every call with one record in it, a record the transformer turns into something that cannot
 * be encoded, partition values that cannot make a key, two pipelines writing one sink, and a
 * batch that fails on every attempt. The shard is never blocked; each bad record is under
 * errors/ with its stage and reason, each good one in the data, counted with DuckDB.
 */
import assert from "node:assert/strict";
import { after, afterEach, test } from "node:test";
import { armFailpoint, disarmFailpoints, failpointCounts } from "../../functions/core/failpoints.ts";
import type { TransformationEvent } from "../../functions/core/firehose-contract.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { startTestRunner } from "../support/runner.ts";
import { assertExactlyOnce, checkpointOf, countLake, feedback, type Marked, marked, send } from "./lake.ts";

const TRANSFORMER = "arn:aws:lambda:us-east-1:000000000000:function:faults-transformer";

/** Throws on any call holding a "poison" record; answers "mangle" records with a wrong type. */
async function vetting(event: TransformationEvent) {
  const texts = event.records.map((r) => Buffer.from(r.data, "base64").toString("utf8"));
  if (texts.some((t) => t.includes("poison"))) throw new Error("cannot vet this batch");
  return {
    records: event.records.map((r, i) => {
      const data = JSON.parse(texts[i]!) as Record<string, unknown>;
      if (String(data.content).includes("mangle")) data.isNegative = "not a boolean";
      return {
        recordId: r.recordId,
        result: "Ok" as const,
        data: Buffer.from(JSON.stringify(data)).toString("base64"),
      };
    }),
  };
}

const runners: LocalRunner[] = [];
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
});
afterEach(() => disarmFailpoints());

async function start(): Promise<LocalRunner> {
  const runner = await startTestRunner("poison", {
    manifestPath: "test/fixtures/manifests/faults.yaml",
    transformers: new Map([[TRANSFORMER, vetting]]),
  });
  runners.push(runner);
  return runner;
}

const buckets = (r: LocalRunner) => ({
  lake: r.config.pipelines.lake!.sink.bucket,
  vetted: r.config.pipelines.vetted!.sink.bucket,
});

test("poison records: each is under errors/ with its stage and reason, every neighbour in the data, the shard moves on", async () => {
  const runner = await start();
  const good = marked("good", 60);
  const tooLong = { data: feedback(`long-${"/".repeat(100)}`), key: "long" }; // 305 bytes escaped
  const lookAlike = { data: feedback("a\u2215b\u202E\uFEFF"), key: "look" };
  const poison = { data: feedback("poisoned", { content: "poison" }), key: "poison" };
  const mangled = { data: feedback("mangled", { content: "mangle me" }), key: "mangle" };
  const all: Marked[] = [
    ...good.slice(0, 20),
    tooLong,
    poison,
    ...good.slice(20, 40),
    mangled,
    lookAlike,
    ...good.slice(40),
  ];
  const sent = await send(runner, all);
  assert.equal(sent.accepted.size, all.length);
  await runner.drained(60_000);

  const lake = await countLake(runner, buckets(runner).lake);
  // The lake pipeline has no transformer and no field in its prefix: all of them are data there.
  assertExactlyOnce(lake, sent.accepted.keys(), () => "data");

  const vetted = await countLake(runner, buckets(runner).vetted);
  const line = (pipeline: string, marker: string) =>
    vetted.errorLines.filter(
      (l) => l.pipeline === pipeline && (l.payload as { customerId?: string }).customerId === marker,
    );
  // vetted: transformer, then the customer prefix. by-customer: the customer prefix only.
  const [p] = line("vetted", "poisoned");
  assert.deepEqual([p?.stage, p?.code], ["transform", "TRANSFORM_INVOKE_FAILED"]);
  const [m] = line("vetted", "mangled");
  assert.equal(m?.stage, "convert");
  assert.match(m?.message ?? "", /isNegative/);
  for (const pipeline of ["vetted", "by-customer"]) {
    const [l] = line(pipeline, tooLong.data.customerId as string);
    assert.deepEqual([l?.stage, l?.code], ["partition", "PREFIX_VALUE_INVALID"], pipeline);
    assert.match(l!.message, /field customerId is 305 bytes as a key segment; at most 255/);
  }
  // The look-alike makes a valid key: escaped, in the data of both pipelines.
  assert.equal(vetted.data.get(lookAlike.data.customerId as string), 2);
  assert.ok(vetted.dataKeys.some((k) => k.startsWith("c=a%E2%88%95b%E2%80%AE%EF%BB%BF/")));
  // Every good record is in both pipelines' files, and the two never overwrote each other.
  for (const g of good) assert.equal(vetted.data.get(g.data.customerId as string), 2);
  assert.equal(vetted.data.get("poisoned"), 1); // by-customer has no transformer
  assert.equal(vetted.data.get("mangled"), 1);
  assert.equal(vetted.errorLines.length, 4);
  for (const pipeline of ["lake", "vetted", "by-customer"]) {
    const cp = await checkpointOf(runner, pipeline);
    assert.deepEqual(cp.pending, [], pipeline);
    assert.equal(cp.records + cp.errors, all.length, `${pipeline}: data + errors = accepted`);
  }
  for (const m of runner.mappings.values()) assert.equal(m.failedBatches.length, 0);
});

test("a batch that fails on every attempt is filed under errors/ whole before the event source gives up, and the shard moves on", async () => {
  const runner = await start();
  // The vetted pipeline's batcher dies in every transformer call; the others are unaffected.
  armFailpoint("batch.in-transform", "throw", { times: Number.POSITIVE_INFINITY });
  const first = await send(runner, marked("stuck", 30));
  await runner.drained(120_000);
  assert.equal(
    failpointCounts()["batch.in-transform"],
    5,
    "five normal attempts died in the transformer call",
  );
  disarmFailpoints();
  const later = await send(runner, marked("later", 10));
  await runner.drained(60_000);
  const vetted = await countLake(runner, buckets(runner).vetted);
  const stuck = vetted.errorLines.filter((l) => l.pipeline === "vetted");
  assert.equal(stuck.length, 30);
  for (const l of stuck) {
    assert.equal(l.stage, "deliver");
    assert.equal(l.code, "RETRIES_EXHAUSTED");
    assert.match(
      l.message,
      /delivery failed on 5 attempts \(last: FailpointError: failpoint batch\.in-transform fired\)/,
    );
  }
  // Each stuck record once under vetted's errors/ and once in by-customer's data; later ones twice in data.
  for (const m of first.accepted.keys()) {
    assert.equal(vetted.data.get(m), 1, m);
    assert.equal(vetted.errors.get(m), 1, m);
  }
  for (const m of later.accepted.keys()) assert.equal(vetted.data.get(m), 2, m);
  for (const m of runner.mappings.values())
    assert.equal(m.failedBatches.length, 0, "no batch reached the on-failure destination");
  const cp = await checkpointOf(runner, "vetted");
  assert.equal(cp.errors, 30);
  assert.equal(cp.records, 10);
  assert.equal(cp.attempts, 0);
});
