/**
 * The deployed read path: the query function behind the API's records route, the tail behind a
 * function URL with response streaming, both reading only their streams' lakes; the Athena
 * workgroup with its encrypted results, its limits and the named queries of each stream.
 * The manifest: two streams sharing a Parquet sink (told apart by its `{stream}` partition), and
 * an Iceberg sink fed through a transform, which is no stream's lake.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import { customTransformNames } from "../../functions/transform/custom.ts";
import { asList, resourcesOf, type Statement, type Synthesized, statementsOf, synthesize } from "./synth.ts";
import { baseManifest, writeManifest } from "./variants.ts";

let s: Synthesized;

const getAtt = (id: string, attr = "Arn") => ({ "Fn::GetAtt": [id, attr] });
const idOf = (s: Synthesized, type: string, path: string) =>
  resourcesOf(s, type).find(([id]) => s.paths.get(id)?.includes(path))?.[0];

before(() => {
  const raw = baseManifest();
  raw.streams.push({ name: "orders", schema: "feedback", eventTimeField: "ts" });
  raw.pipelines = [
    { name: "shared", sources: ["feedback", "orders"], sink: "lake" },
    { name: "to-ice", sources: ["feedback"], sink: "ice", steps: [{ drop: ["comment"] }] },
  ];
  raw.sinks.push({ name: "ice", type: "iceberg", prefix: "data/{stream}/dt={yyyy}-{MM}-{dd}/" });
  s = synthesize(
    loadManifest(writeManifest(raw), { customTransforms: customTransformNames(), onWarning: () => {} }),
  );
});

describe("the query function and the tail read only their streams' lakes", () => {
  for (const fn of ["sluice-query", "sluice-tail"]) {
    test(`${fn}: GetObject and ListBucket under the lake's stream prefixes, Decrypt, and table reads`, () => {
      const lake = idOf(s, "AWS::S3::Bucket", "/Sink-lake/Bucket/")!;
      const statements = statementsOf(s, fn);
      const byAction = (a: string) => statements.filter((st) => asList(st.Action).includes(a));
      const gets = byAction("s3:GetObject");
      assert.equal(gets.length, 1);
      // With the lake pipeline's errors/: GET /v1/streams/{stream}/files lists their reasons.
      const prefixes = ["errors/shared/*", "feedback/dt=*", "orders/dt=*"];
      assert.deepEqual(
        asList(gets[0]!.Resource)
          .map((r) => JSON.stringify(r))
          .sort(),
        prefixes.map((p) => JSON.stringify({ "Fn::Join": ["", [getAtt(lake), `/${p}`]] })).sort(),
      );
      const [list] = byAction("s3:ListBucket");
      assert.deepEqual(list!.Resource, getAtt(lake));
      const listed = (list!.Condition as { StringLike: { "s3:prefix": string[] } }).StringLike["s3:prefix"];
      assert.deepEqual([...listed].sort(), prefixes);
      const actions = new Set(statements.flatMap((st: Statement) => asList(st.Action)));
      const allowed = new Set([
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:ListBucket",
        "kms:Decrypt",
        "kms:DescribeKey",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        ...(fn === "sluice-tail"
          ? ["kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords"]
          : []),
      ]);
      for (const a of actions) assert.ok(allowed.has(a), `${fn} may ${a}`);
      // The Iceberg sink is no stream's lake: nothing of its bucket, and no catalog reads.
      const ice = idOf(s, "AWS::S3::Bucket", "/Sink-ice/Bucket/")!;
      assert.ok(!JSON.stringify(statements).includes(ice), `${fn} reaches the Iceberg bucket`);
      assert.ok(![...actions].some((a) => a.startsWith("glue:")));
    });
  }

  test("the records route goes to the query function; the tail is not on the API", () => {
    const routes = resourcesOf(s, "AWS::ApiGatewayV2::Route").map(([, r]) => r.RouteKey);
    assert.ok(routes.includes("GET /v1/streams/{stream}/records"));
    assert.ok(!routes.includes("GET /v1/streams/{stream}/tail"));
    const query = idOf(s, "AWS::Lambda::Function", "/Query/Query/Function")!;
    const [, integration] = resourcesOf(s, "AWS::ApiGatewayV2::Integration").find(
      ([id]) => s.paths.get(id)?.includes("GET--v1--streams--{stream}--records") === true,
    )!;
    assert.deepEqual(integration.IntegrationUri, getAtt(query));
  });

  test("the tail is a function URL with response streaming, its auth done by the function", () => {
    const tail = idOf(s, "AWS::Lambda::Function", "/Query/Tail/Function")!;
    const urls = resourcesOf(s, "AWS::Lambda::Url");
    assert.equal(urls.length, 1);
    const [urlId, url] = urls[0]!;
    assert.deepEqual(url, {
      AuthType: "NONE",
      InvokeMode: "RESPONSE_STREAM",
      TargetFunctionArn: getAtt(tail),
    });
    const outputs = s.template.findOutputs("TailUrl");
    assert.deepEqual(Object.values(outputs)[0]!.Value, getAtt(urlId, "FunctionUrl"));
    const [, fn] = resourcesOf(s, "AWS::Lambda::Function").find(([id]) => id === tail)!;
    assert.equal(fn.Timeout, 900, "a tail lasts up to Lambda's 15 minutes");
  });
});

describe("Athena", () => {
  test("one workgroup: results encrypted with the data key, a bytes-scanned limit, its settings enforced", () => {
    const [[, wg]] = resourcesOf(s, "AWS::Athena::WorkGroup") as [[string, Record<string, unknown>]];
    const key = idOf(s, "AWS::KMS::Key", "/DataKey/")!;
    const results = idOf(s, "AWS::S3::Bucket", "/Athena/Results/")!;
    assert.deepEqual(wg.WorkGroupConfiguration, {
      BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
      EnforceWorkGroupConfiguration: true,
      PublishCloudWatchMetricsEnabled: true,
      ResultConfiguration: {
        EncryptionConfiguration: { EncryptionOption: "SSE_KMS", KmsKey: getAtt(key) },
        OutputLocation: { "Fn::Join": ["", ["s3://", { Ref: results }, "/results/"]] },
      },
    });
    const [, bucket] = resourcesOf(s, "AWS::S3::Bucket").find(([id]) => id === results)!;
    const sse = (bucket.BucketEncryption as { ServerSideEncryptionConfiguration: unknown[] })
      .ServerSideEncryptionConfiguration[0] as { ServerSideEncryptionByDefault: Record<string, unknown> };
    assert.deepEqual(sse.ServerSideEncryptionByDefault, {
      KMSMasterKeyID: getAtt(key),
      SSEAlgorithm: "aws:kms",
    });
  });

  test("named queries per stream, each keeping to its stream's rows of the shared table", () => {
    const queries = resourcesOf(s, "AWS::Athena::NamedQuery").map(([, q]) => q);
    assert.deepEqual(queries.map((q) => q.Name).sort(), [
      "feedback by-id",
      "feedback late",
      "feedback latest",
      "feedback per-hour",
      "orders by-id",
      "orders late",
      "orders latest",
      "orders per-hour",
    ]);
    for (const q of queries) {
      const stream = String(q.Name).split(" ")[0];
      assert.equal(q.Database, "sluice");
      assert.match(String(q.QueryString), /FROM "sluice"\."lake"/);
      assert.ok(String(q.QueryString).includes(`"stream" = '${stream}'`), String(q.QueryString));
    }
  });
});

describe("a stream whose lake is an Iceberg table (the quick start)", () => {
  for (const fn of ["sluice-query", "sluice-tail"]) {
    test(`${fn} may read the table's Glue entry and metadata files, and change nothing`, () => {
      const quick = synthesize(loadManifest("sluice.yaml"));
      const statements = statementsOf(quick, fn);
      const glue = statements.filter((st) => asList(st.Action).some((a) => a.startsWith("glue:")));
      assert.deepEqual(
        glue.flatMap((st) => asList(st.Action)),
        ["glue:GetTable"],
      );
      assert.match(JSON.stringify(glue[0]!.Resource), /table\/[^"]*\/lake"/);
      const gets = statements.filter((st) => asList(st.Action).includes("s3:GetObject"));
      assert.ok(gets.some((st) => /\/_iceberg\/lake\/\*"/.test(JSON.stringify(st.Resource))));
      for (const st of statements) {
        const writes = asList(st.Action).filter(
          (a) => a.startsWith("s3:Put") || a.startsWith("s3:Delete") || a === "glue:UpdateTable",
        );
        assert.deepEqual(writes, [], `${fn} may ${JSON.stringify(st.Action)}`);
      }
      assert.deepEqual(quick.violations, []);
    });
  }
});
