/**
 * An Iceberg sink in the template: its Glue table (table_type ICEBERG, no SerDe or partition
 * keys: the committer's metadata holds those), one scheduled committer per table with reserved
 * concurrency 1 and grants on exactly its metadata folder, pending items and table, and the
 * batcher's extra grant to put its pending files; cdk-nag clean.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { Manifest } from "../../functions/core/manifest/types.ts";
import { asList, manifestFixture, resourcesOf, type Synthesized, statementsOf, synthesize } from "./synth.ts";

let s: Synthesized;
let plain: Synthesized;

function asIceberg(m: Manifest): Manifest {
  return { ...m, sinks: m.sinks.map((k) => ({ ...k, type: "iceberg", partition: ["hour(ts)"] })) };
}

/** The quick start's sink as a plain Parquet sink (sluice.yaml's is an Iceberg sink). */
function asParquet(m: Manifest): Manifest {
  return {
    ...m,
    sinks: m.sinks.map(({ partition: _p, sortOrder: _s, ...k }) => ({ ...k, type: "parquet" as const })),
  };
}

before(() => {
  const m = manifestFixture("sluice.yaml");
  s = synthesize(asIceberg(m));
  plain = synthesize(asParquet(m), { nag: false });
});

const resourceText = (st: { Resource?: unknown }) => JSON.stringify(st.Resource);

describe("iceberg sink in CDK", () => {
  test("the Glue table is an Iceberg table located in the sink bucket's metadata folder", () => {
    const tables = resourcesOf(s, "AWS::Glue::Table");
    assert.equal(tables.length, 1);
    const input = tables[0]![1].TableInput as {
      TableType: string;
      Parameters: Record<string, string>;
      PartitionKeys?: unknown;
      StorageDescriptor: { SerdeInfo?: unknown; Location: unknown; Columns: { Name: string }[] };
    };
    assert.equal(input.TableType, "EXTERNAL_TABLE");
    assert.equal(input.Parameters.table_type, "ICEBERG");
    assert.equal(input.PartitionKeys, undefined);
    assert.equal(input.StorageDescriptor.SerdeInfo, undefined);
    assert.match(String(input.StorageDescriptor.Location), /^s3:\/\/[^/]+\/_iceberg\/lake$/);
    assert.ok(input.StorageDescriptor.Columns.some((c) => c.Name === "_id"));
  });

  test("one committer per table: reserved concurrency 1, on a one-minute schedule; compaction hourly, expiry daily", () => {
    const fns = resourcesOf(s, "AWS::Lambda::Function").filter(([, p]) =>
      String(p.FunctionName).endsWith("-lake-commit"),
    );
    assert.equal(fns.length, 1);
    const [id, fn] = fns[0]!;
    assert.equal(fn.ReservedConcurrentExecutions, 1);
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    assert.equal(env.SLUICE_SINK, "lake");
    const config = JSON.parse(env.SLUICE_CONFIG!);
    assert.deepEqual(Object.keys(config.streams), []);
    assert.deepEqual(
      config.catalog.tables.map((t: { table: string }) => t.table),
      ["lake"],
    );
    const rules = resourcesOf(s, "AWS::Events::Rule");
    assert.deepEqual(rules.map(([, r]) => r.ScheduleExpression).sort(), [
      "rate(1 day)",
      "rate(1 hour)",
      "rate(1 minute)",
    ]);
    for (const [, r] of rules) assert.match(JSON.stringify(r.Targets), new RegExp(id));
    const daily = rules.find(([, r]) => r.ScheduleExpression === "rate(1 day)")![1];
    const input = JSON.parse(String((daily.Targets as { Input: string }[])[0]!.Input));
    assert.deepEqual(input, { maintain: { expireDays: 7, retainLast: 1, graceHours: 24 } });
    const hourly = rules.find(([, r]) => r.ScheduleExpression === "rate(1 hour)")![1];
    assert.deepEqual(JSON.parse(String((hourly.Targets as { Input: string }[])[0]!.Input)), {
      maintain: { expireDays: 7, retainLast: 1, graceHours: 24, compact: true, expire: false },
    });
    assert.equal(resourcesOf(plain, "AWS::Events::Rule").length, 0, "no committer for a parquet sink");
  });

  test("the committer's grants: its metadata folder, its pending items, its Glue table", () => {
    const fnName = String(
      resourcesOf(s, "AWS::Lambda::Function").find(([, p]) =>
        String(p.FunctionName).endsWith("-lake-commit"),
      )![1].FunctionName,
    );
    const statements = statementsOf(s, fnName);
    const s3 = statements.filter((st) => asList(st.Action).some((a) => String(a).startsWith("s3:")));
    // Compaction reads the data prefix's small files and writes its outputs beside them;
    // maintenance deletes in the metadata folder and the pipeline's data prefix, never errors/.
    // (@aws-cdk/aws-iam:minimizePolicies merges the statements over the same resources.)
    const objects = s3.find((st) => asList(st.Action).includes("s3:PutObject"))!;
    assert.deepEqual(asList(objects.Action).sort(), ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]);
    assert.equal(asList(objects.Resource).length, 2, resourceText(objects));
    assert.match(resourceText(objects), /\/_iceberg\/\*"/);
    assert.match(resourceText(objects), /\/feedback\/dt=\*"/);
    assert.doesNotMatch(resourceText(objects), /errors/);
    const list = s3.find((st) => asList(st.Action).includes("s3:ListBucket"))!;
    assert.deepEqual(asList(list.Action), ["s3:ListBucket"]);
    assert.equal(s3.length, 2, JSON.stringify(s3));
    const pending = statements.find((st) => asList(st.Action).includes("dynamodb:DeleteItem"))!;
    assert.deepEqual(pending.Condition, {
      "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": ["iceberg:lake"] },
    });
    const glue = statements.find((st) => asList(st.Action).includes("glue:UpdateTable"))!;
    assert.match(resourceText(glue), /table\/[^"]*\/lake/);
    assert.ok(!statements.some((st) => asList(st.Action).includes("dynamodb:PutItem")));
  });

  test("the batcher may put pending items of its sink only", () => {
    const fnName = String(
      resourcesOf(s, "AWS::Lambda::Function").find(([, p]) =>
        String(p.FunctionName).endsWith("-lake-batch"),
      )![1].FunctionName,
    );
    const put = statementsOf(s, fnName).filter((st) => asList(st.Action).includes("dynamodb:PutItem"));
    assert.equal(put.length, 1);
    assert.deepEqual(put[0]!.Condition, {
      "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": ["iceberg:lake"] },
    });
  });

  test("cdk-nag finds nothing unacknowledged", () => {
    assert.deepEqual(s.violations, []);
  });
});
