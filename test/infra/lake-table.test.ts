/** The Glue table's columns and partition projection, derived from schemas and prefix templates. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { lakeColumns } from "../../functions/core/catalog/columns.ts";
import { partitionProjection, staticPrefix } from "../../functions/core/catalog/projection.ts";
import { dataLocation, lakeTableDefinition } from "../../functions/core/catalog/table-input.ts";
import type { PipelineRuntime } from "../../functions/core/runtime-config.ts";
import { objectKeyPatterns } from "../../lib/pipeline.ts";

const ctx = {
  location: "s3://b/",
  streams: ["feedback", "shop.orders"],
  pipelines: ["p1"],
  columns: ["_id", "customerId"],
};

describe("lake columns", () => {
  test("JSON Schema types map as the batcher writes them, nested types included", () => {
    const { columns, conflicts } = lakeColumns([
      {
        type: "object",
        properties: {
          s: { type: "string" },
          at: { type: "string", format: "date-time" },
          day: { type: "string", format: "date" },
          n: { type: "integer" },
          x: { type: "number" },
          b: { type: "boolean" },
          tags: { type: "array", items: { type: "string" } },
          geo: { type: "object", properties: { lat: { type: "number" }, "odd-name": { type: "string" } } },
          free: { type: "object" },
          either: { anyOf: [{ type: "string" }, { type: "integer" }] },
        },
      },
    ]);
    assert.deepEqual(conflicts, []);
    assert.deepEqual(
      columns.map((c) => `${c.name} ${c.type}`),
      [
        "_id string",
        "_event_time timestamp",
        "_receive_time timestamp",
        "_schema_version int",
        "s string",
        "at timestamp",
        "day date",
        "n bigint",
        "x double",
        "b boolean",
        "tags array<string>",
        "geo struct<lat:double,`odd-name`:string>",
        "free string",
        "either string",
        "_extra string",
      ],
    );
  });

  test("streams feeding one sink give the union of their properties; a type conflict keeps the first", () => {
    const { columns, conflicts } = lakeColumns([
      { properties: { a: { type: "string" }, shared: { type: "integer" } } },
      { properties: { shared: { type: "string" }, b: { type: "boolean" } } },
    ]);
    assert.deepEqual(
      columns.slice(4, -1).map((c) => `${c.name} ${c.type}`),
      ["a string", "shared bigint", "b boolean"],
    );
    assert.deepEqual(conflicts, ["shared: bigint vs string"]);
  });
});

describe("partition projection", () => {
  test("hive-style stream, date and hour segments become enum, date and integer projections", () => {
    const p = partitionProjection("{stream}/dt={yyyy}-{MM}-{dd}/hr={HH}/", ctx);
    assert.ok(p.projected);
    assert.deepEqual(
      p.partitionKeys.map((k) => k.name),
      ["stream", "dt", "hr"],
    );
    assert.equal(p.parameters["projection.stream.values"], "feedback,shop.orders");
    assert.equal(p.parameters["projection.dt.format"], "yyyy-MM-dd");
    assert.equal(p.parameters["projection.dt.interval.unit"], "DAYS");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's own placeholder syntax
    assert.equal(p.parameters["storage.location.template"], "s3://b/${stream}/dt=${dt}/hr=${hr}/");
  });

  test("a literal letter inside a date is quoted; the finest part sets the interval", () => {
    const p = partitionProjection("ts={yyyy}-{MM}-{dd}T{HH}/", ctx);
    assert.ok(p.projected);
    assert.equal(p.parameters["projection.ts.format"], "yyyy-MM-dd'T'HH");
    assert.equal(p.parameters["projection.ts.interval.unit"], "HOURS");
  });

  test("Firehose-style year/month/day folders, a pipeline enum and injected record values", () => {
    const p = partitionProjection(
      "archive/{pipeline}/region={partitionKey:region}/{field:customer.tier}/{yyyy}/{MM}/{dd}/",
      ctx,
    );
    assert.ok(p.projected);
    assert.deepEqual(
      p.partitionKeys.map((k) => `${k.name}:${p.parameters[`projection.${k.name}.type`]}`),
      [
        "pipeline:enum",
        "region:injected",
        "customer_tier:injected",
        "year:date",
        "month:integer",
        "day:integer",
      ],
    );
    assert.equal(p.parameters["projection.month.range"], "1,12");
    assert.equal(
      p.parameters["storage.location.template"],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's own placeholder syntax
      "s3://b/archive/${pipeline}/region=${region}/${customer_tier}/${year}/${month}/${day}/",
    );
  });

  test("a partition named like a data column gets a distinct name", () => {
    const p = partitionProjection("customerId={field:customerId}/", ctx);
    assert.ok(p.projected);
    assert.deepEqual(
      p.partitionKeys.map((k) => k.name),
      ["customerid_partition"],
    );
  });

  test("templates Athena cannot project say why", () => {
    for (const [template, reason] of [
      ["{stream}-{yyyy}/", "more than one value"],
      ["{MM}-{yyyy}/", "splits a date"],
      ["{stream}{pipeline}/", "more than one value"],
    ] as const) {
      const p = partitionProjection(template, ctx);
      assert.equal(p.projected, false, template);
      if (!p.projected) assert.match(p.reason, new RegExp(reason), template);
    }
    const none = partitionProjection("{pipeline}/", { ...ctx, pipelines: [] });
    assert.equal(none.projected, false);
  });

  test("the table's location is the template's static start", () => {
    assert.equal(staticPrefix("{stream}/dt={yyyy}/"), "");
    assert.equal(staticPrefix("archive/{pipeline}/"), "archive/");
    assert.equal(staticPrefix("data/x{stream}/"), "data/");
  });
});

describe("the table's location holds data only, never errors/", () => {
  const at = (prefix: string, streams = ["feedback"], pipelines = ["p1"]) =>
    dataLocation({ prefix, streams, pipelines });

  test("a static start is the location; a lone {stream} or {pipeline} of one value is that folder", () => {
    assert.equal(at("archive/{pipeline}/{yyyy}/"), "archive/");
    assert.equal(at("{stream}/dt={yyyy}-{MM}-{dd}/"), "feedback/");
    assert.equal(at("{pipeline}/{yyyy}/"), "p1/");
    assert.equal(at("{stream}/{pipeline}/", ["shop.orders"]), "shop.orders/");
  });

  test("no data-only start: several streams at the root, a date first, or data under errors/ itself", () => {
    assert.equal(at("{stream}/dt={yyyy}/", ["a", "b"]), undefined);
    assert.equal(at("{yyyy}/{stream}/"), undefined);
    assert.equal(at("x{stream}/"), undefined);
    assert.equal(at("errors/{stream}/"), undefined);
    assert.equal(at("{stream}/", ["errors"]), undefined);
  });

  test("the Glue definition uses it, and says when it had to fall back to the bucket root", () => {
    const spec = { tableName: "t", bucketName: "b", schemas: [], streams: ["feedback"], pipelines: ["p1"] };
    const one = lakeTableDefinition({ ...spec, prefix: "{stream}/dt={yyyy}-{MM}-{dd}/" });
    assert.equal(one.input.StorageDescriptor?.Location, "s3://b/feedback/");
    assert.equal(one.locationExcludesErrors, true);
    const two = lakeTableDefinition({
      ...spec,
      streams: ["a", "b"],
      prefix: "{stream}/dt={yyyy}-{MM}-{dd}/",
    });
    assert.equal(two.input.StorageDescriptor?.Location, "s3://b/");
    assert.equal(two.locationExcludesErrors, false);
    // Athena's projection still lists only the streams' folders.
    assert.match(two.input.Parameters?.["storage.location.template"] ?? "", /^s3:\/\/b\/\$\{stream\}\//);
  });
});

describe("object key patterns a batcher may write", () => {
  const pipeline = (prefix: string, sources: string[]): PipelineRuntime => ({
    name: "p1",
    sources,
    steps: [],
    batch: { size: 1, windowSeconds: 0, maxRetries: 0, bisectOnError: false, onFailure: "queue" },
    sink: {
      name: "s",
      type: "parquet",
      prefix,
      compression: "zstd",
      rowGroupSize: 1,
      roll: { maxRecords: 1, maxBytes: 1 },
      bucket: "b",
      kmsKeyId: "alias/x",
    },
  });

  test("one data prefix per source stream, up to the first per-record value, and the pipeline's errors", () => {
    assert.deepEqual(objectKeyPatterns(pipeline("{stream}/dt={yyyy}-{MM}/", ["a", "b.c"])), [
      "a/dt=*",
      "b.c/dt=*",
      "errors/p1/*",
    ]);
    assert.deepEqual(objectKeyPatterns(pipeline("x/{pipeline}/{stream}/", ["a"])), [
      "x/p1/a/*",
      "errors/p1/*",
    ]);
  });

  test("a template starting with a per-record value can only be scoped to the whole bucket", () => {
    assert.deepEqual(objectKeyPatterns(pipeline("{yyyy}/{stream}/", ["a"])), ["*", "errors/p1/*"]);
  });
});
