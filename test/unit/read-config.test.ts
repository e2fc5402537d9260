/**
 * What the deployed read path is given: the read slice of the runtime config (within Lambda's
 * 4 KB however many pipelines there are, and picking the same lake per stream as the full
 * config), the Athena named queries' targets, and the tail's routing of function URL events.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { namedQueries, queryTargets } from "../../functions/core/catalog/athena-queries.ts";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import { streamLake } from "../../functions/core/query/records.ts";
import { runtimeConfig } from "../../functions/core/runtime-config.ts";
import {
  environmentBytes,
  environmentOf,
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
  readConfig,
} from "../../functions/core/runtime-env.ts";
import { asTailRoute } from "../../functions/query/tail-app.ts";
import { customTransformNames } from "../../functions/transform/custom.ts";
import { baseManifest, type RawManifest, writeManifest } from "../infra/variants.ts";

const load = (raw: RawManifest) =>
  loadManifest(writeManifest(raw), { customTransforms: customTransformNames(), onWarning: () => {} });

function manyPipelines(): RawManifest {
  const raw = baseManifest();
  raw.streams.push({ name: "orders", schema: "feedback", eventTimeField: "ts" });
  raw.pipelines = [
    // Transformed copies first: the stream's lake is still the untransformed pipeline.
    ...Array.from({ length: 30 }, (_, i) => ({
      name: `copy${i}`,
      sources: ["feedback", "orders"],
      sink: "lake",
      steps: [{ set: { note: "x".repeat(200) } }],
    })),
    { name: "raw-feedback", sources: ["feedback"], sink: "lake" },
  ];
  return raw;
}

describe("the read slice of the runtime config", () => {
  test("holds every stream and only each stream's lake, and fits 4 KB where the full config does not", () => {
    const config = runtimeConfig(load(manyPipelines()), "123456789012", "eu-west-1", "prod");
    const full = environmentBytes(environmentOf(config));
    const reads = readConfig(config);
    assert.ok(full > LAMBDA_ENVIRONMENT_LIMIT_BYTES, `the full config takes ${full} bytes`);
    assert.ok(environmentBytes(environmentOf(reads)) < 2048);
    assert.deepEqual(Object.keys(reads.streams), ["feedback", "orders"]);
    assert.deepEqual(Object.keys(reads.pipelines), ["copy0", "raw-feedback"]);
    assert.deepEqual(reads.pipelines["raw-feedback"]!.sink, {
      name: "lake",
      bucket: "sluice-prod-lake-123456789012-eu-west-1",
      prefix: "{stream}/dt={yyyy}-{MM}-{dd}/",
    });
    assert.equal("steps" in reads.pipelines.copy0!, false);
    assert.equal("catalog" in reads, false);
  });

  test("each stream reads the same lake from the slice as from the full config", () => {
    const config = runtimeConfig(load(manyPipelines()), "123456789012", "eu-west-1");
    const deps = { s3: {} as never, checkpoints: {} as never };
    for (const stream of ["feedback", "orders"]) {
      const full = streamLake({ ...deps, config }, stream);
      const slice = streamLake({ ...deps, config: readConfig(config) }, stream);
      assert.equal(slice.pipeline.name, full.pipeline.name, stream);
      assert.equal(slice.bucket, full.bucket);
      assert.equal(slice.subject, full.subject);
    }
  });
});

describe("Athena named queries", () => {
  test("streams sharing a table partitioned by stream get their own queries, filtered", () => {
    const raw = manyPipelines();
    const manifest = load(raw);
    const targets = queryTargets(manifest, runtimeConfig(manifest, "1", "r"));
    assert.deepEqual(
      targets.map((t) => [t.name, t.table, t.filter]),
      [
        ["feedback", "lake", `"stream" = 'feedback'`],
        ["orders", "lake", `"stream" = 'orders'`],
      ],
    );
    const [latest, perHour] = namedQueries(targets[1]!);
    assert.equal(
      latest!.sql,
      `SELECT * FROM "sluice"."lake" WHERE "stream" = 'orders' ORDER BY _event_time DESC LIMIT 100`,
    );
    assert.match(perHour!.sql, /WHERE "stream" = 'orders' AND _event_time > current_timestamp/);
  });

  test("a table whose rows cannot be told apart by stream gets one set of queries, unfiltered", () => {
    const raw = baseManifest();
    raw.streams.push({ name: "orders", schema: "feedback", eventTimeField: "ts" });
    raw.pipelines = [{ name: "both", sources: ["feedback", "orders"], sink: "lake" }];
    raw.sinks = [{ name: "lake", type: "parquet", prefix: "all/dt={yyyy}-{MM}-{dd}/" }];
    const manifest = load(raw);
    const targets = queryTargets(manifest, runtimeConfig(manifest, "1", "r"));
    assert.deepEqual(targets, [{ name: "lake", database: "sluice", table: "lake" }]);
    assert.ok(namedQueries(targets[0]!).every((q) => !q.sql.includes('"stream"')));
  });
});

describe("the tail behind a function URL", () => {
  const urlEvent = (method: string, rawPath: string) =>
    ({
      routeKey: "$default",
      rawPath,
      headers: {},
      requestContext: { http: { method } },
    }) as unknown as APIGatewayProxyEventV2;

  test("takes the stream from the path, as the API's route would give it", () => {
    const routed = asTailRoute(urlEvent("GET", "/v1/streams/order%2Dlines/tail"));
    assert.equal(routed?.routeKey, "GET /v1/streams/{stream}/tail");
    assert.deepEqual(routed?.pathParameters, { stream: "order-lines" });
  });

  test("is not a tail for another path or method", () => {
    assert.equal(asTailRoute(urlEvent("GET", "/v1/streams/feedback/records")), undefined);
    assert.equal(asTailRoute(urlEvent("POST", "/v1/streams/feedback/tail")), undefined);
    assert.equal(asTailRoute(urlEvent("GET", "/v1/streams/%E0%A4%A/tail")), undefined);
  });
});
