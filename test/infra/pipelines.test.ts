/**
 * Pipelines from the manifest: one transformer, batcher and mapping each, least-privilege invoke
 * grants, removal that touches nothing else, and configs that fit Lambda however many pipelines.
 * Functions are left unbundled here: these tests are about the template.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import type { Manifest, PipelineDef } from "../../functions/core/manifest/types.ts";
import { runtimeConfig } from "../../functions/core/runtime-config.ts";
import {
  EnvironmentTooLarge,
  ingestConfig,
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
  pipelineConfig,
} from "../../lib/runtime-env.ts";
import {
  ACCOUNT,
  asList,
  manifestFixture,
  REGION,
  resourcesFor,
  resourcesOf,
  type Synthesized,
  statementsOf,
  synthesize,
} from "./synth.ts";

const THREE = "test/fixtures/manifests/three-pipelines.yaml";
const TWO = "test/fixtures/manifests/two-pipelines.yaml";
const EXTERNAL_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders-transform:live";

let three: Synthesized;
let two: Synthesized;
let external: Synthesized;
let many: Synthesized;
let base: Manifest;

function withPipelines(m: Manifest, pipelines: PipelineDef[]): Manifest {
  return { ...m, pipelines };
}

before(() => {
  base = manifestFixture(THREE);
  three = synthesize(base);
  two = synthesize(TWO);
  external = synthesize(
    withPipelines(
      base,
      base.pipelines.map((p) =>
        p.name === "orders-lake" ? { ...p, steps: [], transformerArn: EXTERNAL_ARN } : p,
      ),
    ),
  );
  // As many as one stack holds: CloudFormation's 500 resources, about 19 per pipeline.
  const copies = Array.from({ length: 19 }, (_, i) => ({
    ...base.pipelines[i % 3]!,
    name: `pipeline-number-${i}`,
  }));
  many = synthesize(withPipelines(base, copies), { nag: false });
});

/** The functions named from the manifest (the schema registration function is not). */
const functionsOf = (s: Synthesized) =>
  new Map(
    resourcesOf(s, "AWS::Lambda::Function")
      .filter(([, p]) => p.FunctionName !== undefined)
      .map(([id, p]) => [p.FunctionName as string, { id, props: p }]),
  );

describe("three pipelines", () => {
  test("yield three transformers, three batchers and three mappings with the right filters and settings", () => {
    const fns = functionsOf(three);
    assert.deepEqual([...fns.keys()].sort(), [
      "three-admin",
      "three-everything-archive-batch",
      "three-everything-archive-transform",
      "three-feedback-lake-batch",
      "three-feedback-lake-transform",
      "three-import-chunk",
      "three-imports",
      "three-ingest",
      "three-orders-lake-batch",
      "three-orders-lake-transform",
      "three-query",
      "three-registry",
      "three-tail",
    ]);
    const mappings = new Map(
      // The Kinesis mappings (the import chunks' reads SQS).
      resourcesOf(three, "AWS::Lambda::EventSourceMapping")
        .filter(([, m]) => m.StartingPosition !== undefined)
        .map(([, m]) => [[...fns].find(([, f]) => f.id === (m.FunctionName as { Ref: string }).Ref)![0], m]),
    );
    assert.equal(mappings.size, 3);
    const expected = {
      "three-feedback-lake-batch": { sources: ["feedback"], size: 500, window: 5, retries: 5, bisect: true },
      "three-orders-lake-batch": {
        sources: ["shop.orders"],
        size: 1000,
        window: 5,
        retries: 5,
        bisect: true,
      },
      "three-everything-archive-batch": {
        sources: ["feedback", "shop.orders"],
        size: 2000,
        window: 10,
        retries: 2,
        bisect: false,
      },
    };
    for (const [fn, e] of Object.entries(expected)) {
      const m = mappings.get(fn)!;
      assert.deepEqual(m.FilterCriteria, {
        Filters: [{ Pattern: JSON.stringify({ data: { stream: e.sources } }) }],
      });
      assert.equal(m.BatchSize, e.size, fn);
      assert.equal(m.MaximumBatchingWindowInSeconds, e.window, fn);
      assert.equal(m.MaximumRetryAttempts, e.retries, fn);
      assert.equal(m.BisectBatchOnFunctionError, e.bisect, fn);
      assert.equal(m.ParallelizationFactor, 1, fn);
      assert.deepEqual(m.FunctionResponseTypes, ["ReportBatchItemFailures"]);
    }
  });

  test("a provisioned stream gets the manifest's shards and retention", () => {
    three.template.hasResourceProperties("AWS::Kinesis::Stream", {
      ShardCount: 2,
      RetentionPeriodHours: 48,
      StreamModeDetails: { StreamMode: "PROVISIONED" },
    });
  });

  test("each batcher may invoke exactly its own transformer, and each transformer nothing but its logs", () => {
    const fns = functionsOf(three);
    for (const p of ["feedback-lake", "orders-lake", "everything-archive"]) {
      const invokes = statementsOf(three, `three-${p}-batch`).filter((st) =>
        asList(st.Action).includes("lambda:InvokeFunction"),
      );
      assert.deepEqual(
        invokes.map((st) => st.Resource),
        [{ "Fn::GetAtt": [fns.get(`three-${p}-transform`)!.id, "Arn"] }],
      );
      const transformer = statementsOf(three, `three-${p}-transform`).flatMap((st) => asList(st.Action));
      assert.deepEqual(transformer, ["logs:CreateLogStream", "logs:PutLogEvents"]);
    }
  });

  test("each batcher writes only its own prefixes: per source stream in a shared sink, and its errors", () => {
    const wildcards = (fn: string) =>
      resourcesFor(statementsOf(three, fn), "s3:PutObject").map((r) =>
        r.replace(/^.*"(\/[^"]*)"\]\]\}$/, "$1"),
      );
    assert.deepEqual(wildcards("three-feedback-lake-batch").sort(), [
      "/errors/feedback-lake/*",
      "/feedback/dt=*",
    ]);
    assert.deepEqual(wildcards("three-orders-lake-batch").sort(), [
      "/errors/orders-lake/*",
      "/shop.orders/dt=*",
    ]);
    assert.deepEqual(wildcards("three-everything-archive-batch").sort(), [
      "/archive/everything-archive/*",
      "/errors/everything-archive/*",
    ]);
  });

  test("table locations: the archive's static start; the shared root sink falls back to the bucket root with a warning", () => {
    const inputs = resourcesOf(three, "AWS::Glue::Table").map(
      ([, t]) => t.TableInput as { Name: string; StorageDescriptor: { Location: unknown } },
    );
    const location = (name: string) =>
      JSON.stringify(inputs.find((t) => t.Name === name)!.StorageDescriptor.Location);
    assert.match(location("archive"), /\/archive\/"/);
    assert.match(location("lake"), /:\/\/",\{[^}]*\},"\/"|:\/\/[^/"]+\/"/);
    Annotations.fromStack(three.stack).hasInfo(
      "*",
      Match.stringLikeRegexp("lake: prefix .* holds errors/ too"),
    );
  });

  test("the shared sink's table has both streams' columns and projects both", () => {
    const tables = resourcesOf(three, "AWS::Glue::Table").map(
      ([, t]) => t.TableInput as Record<string, unknown>,
    );
    const lake = tables.find((t) => t.Name === "lake") as {
      StorageDescriptor: { Columns: { Name: string }[] };
      Parameters: Record<string, string>;
    };
    const columns = lake.StorageDescriptor.Columns.map((c) => c.Name);
    for (const name of ["customerId", "category", "customer", "orderId", "placedAt", "lines"]) {
      assert.ok(columns.includes(name), name);
    }
    assert.equal(lake.Parameters["projection.stream.values"], "feedback,shop.orders");
  });

  test("cdk-nag reports nothing unacknowledged", () => {
    assert.deepEqual(three.violations, []);
  });
});

describe("a pipeline with an output schema", () => {
  test("puts that schema's columns in its sink's table instead of its sources'", () => {
    const m = withPipelines(
      base,
      base.pipelines.map((p) => (p.name === "orders-lake" ? { ...p, schema: "feedback" } : p)),
    );
    const s = synthesize(m, { nag: false });
    const lake = resourcesOf(s, "AWS::Glue::Table")
      .map(([, t]) => t.TableInput as { Name: string; StorageDescriptor: { Columns: { Name: string }[] } })
      .find((t) => t.Name === "lake")!;
    const columns = lake.StorageDescriptor.Columns.map((c) => c.Name);
    assert.ok(columns.includes("customerId"));
    assert.ok(!columns.includes("orderId"), columns.join(","));
  });
});

describe("removing a pipeline", () => {
  test("removes exactly its resources and leaves every other logical id and resource as it was", () => {
    const before = new Set(Object.keys(three.json.Resources));
    const after = new Set(Object.keys(two.json.Resources));
    // Athena's named queries follow which sink is each stream's lake, which removing a pipeline
    // may change (test/infra/read-path.test.ts). Nothing else is new.
    for (const id of after) {
      if (two.json.Resources[id]?.Type === "AWS::Athena::NamedQuery") continue;
      assert.ok(before.has(id), `${id} is new`);
    }
    const removed = [...before].filter(
      (id) => !after.has(id) && three.json.Resources[id]?.Type !== "AWS::Athena::NamedQuery",
    );
    assert.ok(removed.length > 10);
    for (const id of removed) {
      assert.match(three.paths.get(id) ?? id, /^Test\/Pipeline-orders-lake\//, `${id} removed`);
    }
    for (const id of [...three.paths]
      .filter(([, p]) => p.startsWith("Test/Pipeline-orders-lake/"))
      .map(([i]) => i)) {
      assert.ok(!after.has(id), `${id} of the removed pipeline is still there`);
    }
    for (const id of after) {
      const path = two.paths.get(id) ?? "";
      if (!/^Test\/Pipeline-/.test(path)) continue;
      assert.deepEqual(two.json.Resources[id], three.json.Resources[id], `${path} changed`);
    }
  });
});

describe("an external transformer", () => {
  test("gets no function; its batcher may invoke exactly that ARN", () => {
    const fns = functionsOf(external);
    assert.ok(!fns.has("three-orders-lake-transform"));
    const invokes = statementsOf(external, "three-orders-lake-batch").filter((st) =>
      asList(st.Action).includes("lambda:InvokeFunction"),
    );
    assert.deepEqual(
      invokes.map((st) => [st.Action, st.Resource]),
      [["lambda:InvokeFunction", EXTERNAL_ARN]],
    );
    assert.deepEqual(external.violations, []);
  });
});

describe("configuration size", () => {
  const envBytes = (props: Record<string, unknown>) =>
    Object.entries((props.Environment as { Variables: Record<string, string> }).Variables).reduce(
      (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
      0,
    );

  test("with 19 pipelines every function's environment still fits, and ingest's does not grow", () => {
    const fns = functionsOf(many);
    // ingest, registry, admin, imports, the import chunks, query and tail, and per pipeline a batcher and a transformer.
    assert.equal(fns.size, 7 + 19 * 2);
    for (const [name, { props }] of fns) {
      assert.ok(envBytes(props) <= LAMBDA_ENVIRONMENT_LIMIT_BYTES, `${name}: ${envBytes(props)} bytes`);
    }
    assert.equal(
      envBytes(fns.get("three-ingest")!.props),
      envBytes(functionsOf(three).get("three-ingest")!.props),
    );
  });

  test("no function's config grows with the number of pipelines in the app", () => {
    const copies = Array.from({ length: 500 }, (_, i) => ({ ...base.pipelines[i % 3]!, name: `p${i}` }));
    const small = runtimeConfig(base, ACCOUNT, REGION);
    const large = runtimeConfig(withPipelines(base, [...base.pipelines, ...copies]), ACCOUNT, REGION);
    assert.equal(JSON.stringify(ingestConfig(large)), JSON.stringify(ingestConfig(small)));
    for (const p of base.pipelines) {
      assert.equal(
        JSON.stringify(pipelineConfig(large, p.name)),
        JSON.stringify(pipelineConfig(small, p.name)),
      );
    }
  });

  test("a pipeline whose own config cannot fit fails synth and names its function", () => {
    const huge = { ...base.pipelines[0]!, steps: [{ set: { blob: "x".repeat(5000) } }] };
    assert.throws(
      () => synthesize(withPipelines(base, [huge]), { nag: false }),
      (err: unknown) =>
        err instanceof EnvironmentTooLarge && /three-feedback-lake-transform/.test(err.message),
    );
  });
});
