/**
 * `batch.onFailure: bucket`: the event source mapping files a batch it gives up on, records
 * included, in the stack's failed-batches bucket instead of the metadata-only dead-letter queue,
 * and the batcher's role may only add objects there.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { cfnLint, unacceptable } from "./cfn-lint.ts";
import {
  actionsOn,
  manifestFixture,
  permissionLines,
  resourcesOf,
  type Synthesized,
  statementsOf,
  synthesize,
} from "./synth.ts";
import { baseManifest, type RawManifest, validate, writeManifest } from "./variants.ts";

function withOnFailure(onFailure: unknown): RawManifest {
  const raw = baseManifest();
  return { ...raw, pipelines: [{ ...raw.pipelines[0]!, batch: { onFailure } }] };
}

describe("failed batches kept in a bucket", () => {
  let s: Synthesized;
  let bucketId: string;
  before(() => {
    s = synthesize(manifestFixture(writeManifest(withOnFailure("bucket")), { stage: "prod" }), {
      stage: "prod",
      region: null,
    });
    bucketId = resourcesOf(s, "AWS::S3::Bucket").find(([id]) => id.startsWith("FailedBatches"))![0];
  });

  test("the mapping's on-failure destination is the bucket, and the pipeline has no dead-letter queue", () => {
    const [[, mapping]] = resourcesOf(s, "AWS::Lambda::EventSourceMapping") as [
      [string, Record<string, unknown>],
    ];
    assert.deepEqual(mapping.DestinationConfig, {
      OnFailure: { Destination: { "Fn::GetAtt": [bucketId, "Arn"] } },
    });
    // The import chunks' queues (named) are the only queues: no pipeline dead-letter queue.
    assert.equal(resourcesOf(s, "AWS::SQS::Queue").filter(([, p]) => p.QueueName === undefined).length, 0);
    assert.deepEqual(s.template.findOutputs("FailedBatchesBucket").FailedBatchesBucket?.Value, {
      Ref: bucketId,
    });
  });

  test("the bucket: KMS with the data key, versioned, TLS only, private, 90 days, retained", () => {
    const [, bucket] = resourcesOf(s, "AWS::S3::Bucket").find(([id]) => id === bucketId)!;
    const sse = (bucket.BucketEncryption as { ServerSideEncryptionConfiguration: Record<string, unknown>[] })
      .ServerSideEncryptionConfiguration[0]!;
    assert.equal((sse.ServerSideEncryptionByDefault as { SSEAlgorithm: string }).SSEAlgorithm, "aws:kms");
    assert.deepEqual(bucket.VersioningConfiguration, { Status: "Enabled" });
    assert.deepEqual(bucket.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const rules = (bucket.LifecycleConfiguration as { Rules: { Id: string; ExpirationInDays?: number }[] })
      .Rules;
    assert.equal(rules.find((r) => r.Id === "expire-failed-batches")?.ExpirationInDays, 90);
    assert.equal(
      (s.json.Resources[bucketId] as { UpdateReplacePolicy?: string }).UpdateReplacePolicy,
      "Retain",
    );
    const policy = resourcesOf(s, "AWS::S3::BucketPolicy").find(
      ([, p]) => JSON.stringify(p.Bucket) === JSON.stringify({ Ref: bucketId }),
    );
    assert.match(JSON.stringify(policy?.[1].PolicyDocument), /"aws:SecureTransport":"false"/);
  });

  test("the batcher may put objects under aws/lambda/ and list the bucket: no reads, no deletes", () => {
    const statements = statementsOf(s, "sluice-prod-feedback-lake-batch");
    const bucket = new RegExp(`"${bucketId}"`);
    assert.deepEqual(
      actionsOn(statements, bucket),
      ["s3:ListBucket", "s3:PutObject"],
      permissionLines(statements).join("\n"),
    );
    const puts = permissionLines(statements).filter((l) => bucket.test(l) && l.startsWith("s3:PutObject"));
    assert.equal(puts.length, 1);
    assert.match(puts[0]!, /"\/aws\/lambda\/\*"/);
    assert.ok(!permissionLines(statements).some((l) => l.startsWith("sqs:")));
  });

  test("the failed-batch alarm counts what the mapping delivered to the bucket", () => {
    const alarm = resourcesOf(s, "AWS::CloudWatch::Alarm").find(([id]) => id.includes("DeadLettersAlarm"))!;
    assert.equal(alarm[1].MetricName, "OnFailureDestinationDeliveredEventCount");
    assert.equal(alarm[1].Namespace, "AWS/Lambda");
    assert.match(String(alarm[1].AlarmDescription), /failed-batches bucket/);
  });

  test("passes cfn-lint", () => {
    assert.deepEqual(unacceptable(cfnLint([s.templatePath])), []);
  });
});

describe("batch.onFailure in the manifest", () => {
  test("queue by default; anything but queue or bucket is refused at its field", () => {
    const check = validate(withOnFailure("topic"), { stage: "prod" });
    assert.deepEqual(
      check.issues.map((i) => i.path),
      ["pipelines[0].batch.onFailure"],
    );
    const defaults = manifestFixture(writeManifest(baseManifest()));
    assert.equal(defaults.pipelines[0]!.batch.onFailure, "queue");
  });
});
