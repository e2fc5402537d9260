/**
 * Iceberg sink against a plain Parquet sink, in one run on the embedded stack (or
 * AWS_ENDPOINT_URL): the same Kinesis batches (1,000 records, four event hours each) go through
 * two pipelines' batchers in-process, interleaved, one writing to a Parquet sink, the other to an
 * Iceberg sink whose committer runs every `--commit-every` batches (default 20; in AWS it is its
 * own function, once a minute). Reported: records/s end to end through the commit for each and
 * their ratio, as deployed (the batchers' time and the commit after the last batch, since the
 * committer's own runs overlap the batchers on other compute) and with every commit in line (one
 * process, as `npm start`), the batchers alone, where the gap goes (the checkpoint transaction,
 * the files' statistics), commit time and the commits per minute one committer can do, and files
 * per partition before and after a compaction (with its own records/s).
 *
 *   npm run bench -- iceberg [--records N] [--commit-every K]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { KinesisStreamRecord } from "aws-lambda";
import { useLocalStackDefaults } from "../../bin/local-env.ts";
import { createBatchApp } from "../../functions/batch/app.ts";
import { createMaintenance } from "../../functions/commit/maintain.ts";
import { fileStats } from "../../functions/core/iceberg/file-stats.ts";
import { silentLogger } from "../../functions/core/logger.ts";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import { newRecordId } from "../../functions/core/record-id.ts";
import { startLocalRunner } from "../../localstack/lambda/local-runner.ts";
import { type EmbeddedStack, startEmbeddedStack } from "../../localstack/stack.ts";
import { generateFeedback } from "./generate.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SHARD = "shardId-000000000000";
const BATCH = 1000;
const HOURS = 4;

const MANIFEST = (schema: string) => `version: 1
name: bench-ice-${Date.now().toString(36)}
kinesis: { mode: provisioned, shards: 1 }
schemas:
  - { name: feedback, namespace: sluice, file: ${schema} }
streams:
  - { name: feedback, schema: feedback, eventTimeField: ts, maxFutureSkewSeconds: 3153600000 }
pipelines:
  - { name: plain, sources: [feedback], sink: plain }
  - { name: ice, sources: [feedback], sink: ice }
sinks:
  - { name: plain, type: parquet, prefix: "plain/dt={yyyy}-{MM}-{dd}/hr={HH}/" }
  - { name: ice, type: iceberg, prefix: "ice/dt={yyyy}-{MM}-{dd}/hr={HH}/", partition: ["hour(ts)"] }
`;

function batches(records: number): KinesisStreamRecord[][] {
  const base = Date.UTC(2026, 2, 1, 8);
  const out: KinesisStreamRecord[][] = [];
  const feedback = generateFeedback(records);
  for (let b = 0; b * BATCH < records; b++) {
    const batch: KinesisStreamRecord[] = [];
    for (let i = b * BATCH; i < Math.min(records, (b + 1) * BATCH); i++) {
      const t = base + (i % HOURS) * 3_600_000 + (i % 3_600) * 1000;
      const ts = new Date(t).toISOString();
      const data = { ...feedback[i]!, ts };
      const text = JSON.stringify({
        v: 1,
        id: newRecordId(t),
        stream: "feedback",
        schema: { name: "sluice.feedback", version: 1 },
        key: null,
        ts,
        rt: ts,
        data,
      });
      const sequenceNumber = String(49_000_000_000 + i);
      batch.push({
        eventID: `${SHARD}:${sequenceNumber}`,
        kinesis: {
          sequenceNumber,
          partitionKey: `pk-${i}`,
          approximateArrivalTimestamp: t / 1000,
          data: Buffer.from(text).toString("base64"),
        },
      } as KinesisStreamRecord);
    }
    out.push(batch);
  }
  return out;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const perPartition = (files: readonly { partition: Readonly<Record<string, unknown>> }[]) => {
  const counts = new Map<string, number>();
  for (const f of files) {
    const k = JSON.stringify(f.partition);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.values()];
};

export async function benchIceberg(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      records: { type: "string", default: "100000" },
      "commit-every": { type: "string", default: "20" },
    },
  });
  const records = Number(values.records);
  const every = Number(values["commit-every"]);
  useLocalStackDefaults();
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-ice-"));
  let stack: EmbeddedStack | undefined;
  let endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    stack = await startEmbeddedStack({ port: 0 });
    endpoint = stack.endpoint;
  }
  const manifestPath = join(dir, "sluice.yaml");
  writeFileSync(manifestPath, MANIFEST(join(ROOT, "schemas/feedback.v1.json")));
  const manifest = loadManifest(manifestPath);
  const runner = await startLocalRunner({
    manifest,
    endpoint,
    httpPort: 0,
    logger: silentLogger,
    pipelines: false,
    commitIntervalMs: 0,
  });
  try {
    const app = (pipeline: string) =>
      createBatchApp({
        config: runner.config,
        pipeline,
        region: "us-east-1",
        clients: runner.clients,
        invoke: async () => {
          throw new Error("no transformer");
        },
        logger: silentLogger,
      });
    const plain = app("plain");
    const ice = app("ice");
    const all = batches(records);
    let plainMs = 0;
    let iceMs = 0;
    const commitMs: number[] = [];
    const run = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    for (let b = 0; b < all.length; b++) {
      const batch = { Records: all[b]! };
      // Alternate which sink goes first, so neither always meets a warmer process.
      if (b % 2 === 0) {
        plainMs += await run(() => plain(batch));
        iceMs += await run(() => ice(batch));
      } else {
        iceMs += await run(() => ice(batch));
        plainMs += await run(() => plain(batch));
      }
      if ((b + 1) % every === 0 || b === all.length - 1) {
        const ms = await run(() => runner.commit());
        commitMs.push(ms);
        iceMs += ms;
      }
    }
    const maint = createMaintenance({ config: runner.config, clients: runner.clients, glue: runner.glue });
    const before = await maint.files("ice");
    const committed = before.reduce((n, f) => n + f.records, 0);
    if (committed !== records) throw new Error(`the table holds ${committed} records, expected ${records}`);
    let compaction!: Awaited<ReturnType<typeof maint.compact>>;
    const compactMs = await run(async () => {
      compaction = await maint.compact("ice");
    });
    const after = await maint.files("ice");
    if (after.reduce((n, f) => n + f.records, 0) !== records)
      throw new Error("compaction changed the record count");
    // Where the batcher's extra time goes: the checkpoint commit becomes a transaction that also
    // puts the batch's pending files, and each file's footer is read for its statistics.
    const updateMs: number[] = [];
    const transactMs: number[] = [];
    const table = runner.config.tables.checkpoints;
    const files = JSON.stringify(before.slice(0, HOURS));
    for (let i = 0; i < 20; i++) {
      const update = {
        TableName: table,
        Key: { pipeline: "bench", shard: "s" },
        UpdateExpression: "SET seq = :n",
        ExpressionAttributeValues: { ":n": String(i) },
      };
      updateMs.push(await run(() => runner.clients.dynamo.send(new UpdateCommand(update))));
      const put = { TableName: table, Item: { pipeline: "bench-pending", shard: String(i), files } };
      transactMs.push(
        await run(() =>
          runner.clients.dynamo.send(
            new TransactWriteCommand({ TransactItems: [{ Update: update }, { Put: put }] }),
          ),
        ),
      );
    }
    const sample = await runner.clients.s3.send(
      new GetObjectCommand({
        Bucket: runner.config.pipelines.ice!.sink.bucket,
        Key: before[0]!.path.replace(/^s3:\/\/[^/]+\//, ""),
      }),
    );
    const bytes = await sample.Body!.transformToByteArray();
    const statsMs = median(
      Array.from({ length: 20 }, () => {
        const t = performance.now();
        fileStats(bytes);
        return performance.now() - t;
      }),
    );
    const plainRate = records / (plainMs / 1000);
    const iceRate = records / (iceMs / 1000);
    const commitTotalMs = commitMs.reduce((a, b) => a + b, 0);
    // As deployed, the committer is its own function on its own compute: the batchers never wait
    // for it, and the records are readable once the commit after the last batch is done.
    const deployedRate = records / ((iceMs - commitTotalMs + commitMs.at(-1)!) / 1000);
    const commitCapacity = (every * BATCH) / (median(commitMs) / 1000);
    const lines = [
      `iceberg vs parquet sink: ${records} records in ${all.length} batches of ${BATCH} (${HOURS} event hours each), commit every ${every} batches`,
      `  parquet sink   ${plainRate.toFixed(0)} records/s (batcher)`,
      `  iceberg sink   ${iceRate.toFixed(0)} records/s (batcher + ${commitMs.length} commits)`,
      `  ratio          iceberg/parquet ${(deployedRate / plainRate).toFixed(2)} through the commit as deployed: the batchers, then the last commit (target >= 0.90)`,
      `  in line        iceberg/parquet ${(iceRate / plainRate).toFixed(2)} with every commit run between batches, in the batcher's process (as npm start does)`,
      `  batchers only  iceberg/parquet ${(records / ((iceMs - commitTotalMs) / 1000) / plainRate).toFixed(2)}`,
      `  commit         median ${median(commitMs).toFixed(0)} ms for ${every} batches' files: up to ${(60_000 / median(commitMs)).toFixed(0)} commits/min per table, ${commitCapacity.toFixed(0)} records/s one committer can take; scheduled: 1/min`,
      `  per batch      checkpoint UpdateItem ${median(updateMs).toFixed(1)} ms vs TransactWriteItems with the pending files ${median(transactMs).toFixed(1)} ms; file statistics ${statsMs.toFixed(2)} ms per file (${HOURS} files)`,
      `  files/partition before compaction ${perPartition(before).join(", ")} (${before.length} files)`,
      `  files/partition after compaction  ${perPartition(after).join(", ")} (${after.length} files)`,
      `  compaction     ${compaction.filesReplaced} files -> ${compaction.filesAdded} in ${compactMs.toFixed(0)} ms (${(records / (compactMs / 1000)).toFixed(0)} records/s), ${compaction.droppedDuplicates} duplicates dropped`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await runner.stop();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
