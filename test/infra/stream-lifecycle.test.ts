/** The stream lifecycle and retention in CDK: the control table, ingest's grants on it, and per-stream S3 lifecycle rules, cdk-nag clean. */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Match } from "aws-cdk-lib/assertions";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import type { Manifest } from "../../functions/core/manifest/types.ts";
import { retentionRules, streamPrefix } from "../../functions/core/streams/retention.ts";
import { type Synthesized, statementsOf, synthesize } from "./synth.ts";

const base = loadManifest("sluice.yaml");
const manifest: Manifest = {
  ...base,
  streams: base.streams.map((s) => ({ ...s, retention: { days: 7, errorDays: 60 } })),
};

let s: Synthesized;
before(() => {
  s = synthesize(manifest);
});

describe("stream retention and lifecycle state in CDK", () => {
  test("the stream's prefix comes from the head of the sink template", () => {
    assert.equal(streamPrefix("{stream}/dt={yyyy}-{MM}-{dd}/", "feedback"), "feedback/");
    assert.equal(streamPrefix("lake/{stream}/{yyyy}/", "a.b"), "lake/a.b/");
    assert.equal(streamPrefix("dt={yyyy}/{stream}/", "feedback"), undefined);
    assert.deepEqual(retentionRules(manifest, "lake"), [
      { id: "retain-feedback", prefix: "feedback/", days: 7 },
      { id: "retain-errors-feedback-lake", prefix: "errors/feedback-lake/", days: 60 },
    ]);
    assert.deepEqual(retentionRules(base, "lake"), []);
  });

  test("the sink bucket expires the stream's data after 7 days and keeps its errors 60", () => {
    s.template.hasResourceProperties("AWS::S3::Bucket", {
      BucketName: Match.stringLikeRegexp("^sluice-lake-"),
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Id: "expire-errors", Prefix: "errors/", ExpirationInDays: 60 }),
          Match.objectLike({ Id: "retain-feedback", Prefix: "feedback/", ExpirationInDays: 7 }),
          Match.objectLike({
            Id: "retain-errors-feedback-lake",
            Prefix: "errors/feedback-lake/",
            ExpirationInDays: 60,
          }),
        ]),
      },
    });
  });

  test("a control table exists and ingest may read and write its items, nothing more", () => {
    s.template.hasResourceProperties("AWS::DynamoDB::Table", { TableName: "sluice-control" });
    // The import jobs' functions write only their job items (test/infra/imports.test.ts).
    const actions = statementsOf(s, "sluice-ingest")
      .filter((st) => JSON.stringify(st.Resource).includes("Control"))
      .flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action]));
    assert.deepEqual([...new Set(actions)].sort(), [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
    ]);
  });

  test("cdk-nag finds nothing", () => {
    assert.deepEqual(s.violations, []);
  });
});

describe("run-time streams in CDK", () => {
  test("the runtimeStreams pipeline's mapping takes its sources and every stream the manifest does not declare", () => {
    const rts = synthesize(loadManifest("test/fixtures/manifests/runtime-streams.yaml"));
    rts.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FilterCriteria: {
        Filters: [{ Pattern: '{"data":{"stream":["feedback",{"anything-but":["feedback"]}]}}' }],
      },
    });
    // The quick start has no run-time streams: its Iceberg table holds the declared schema only.
    s.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FilterCriteria: { Filters: [{ Pattern: '{"data":{"stream":["feedback"]}}' }] },
    });
  });
});
