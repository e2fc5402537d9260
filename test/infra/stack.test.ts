/** Template assertions on the stack synthesized from the shipped manifest. */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import { SluiceStack } from "../../lib/sluice-stack.ts";

let template: Template;

before(() => {
  const app = new App({ context: { "cli-telemetry": false } });
  const stack = new SluiceStack(app, "Test", {
    manifest: loadManifest("sluice.yaml"),
    env: { account: "123456789012", region: "eu-west-1" },
  });
  template = Template.fromStack(stack);
});

describe("SluiceStack from sluice.yaml", () => {
  test("the event stream is KMS-encrypted, on demand, 24 h retention", () => {
    template.hasResourceProperties("AWS::Kinesis::Stream", {
      Name: "sluice-events",
      StreamEncryption: { EncryptionType: "KMS", KeyId: Match.anyValue() },
      StreamModeDetails: { StreamMode: "ON_DEMAND" },
      RetentionPeriodHours: 24,
    });
  });

  test("four tables, all on demand with PITR and the Sluice key; idempotency has TTL", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 4);
    for (const name of ["sluice-idempotency", "sluice-checkpoints", "sluice-schemas", "sluice-api-keys"]) {
      template.hasResourceProperties("AWS::DynamoDB::Table", {
        TableName: name,
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: "KMS", KMSMasterKeyId: Match.anyValue() },
      });
    }
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: "sluice-idempotency",
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
    });
  });

  test("the sink bucket uses SSE-KMS with a bucket key and blocks public access", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      BucketName: "sluice-lake-123456789012-eu-west-1",
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: Match.anyValue() },
          },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
  });

  test("the batcher is fed by a mapping filtered to its source streams", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 2,
      BisectBatchOnFunctionError: true,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      StartingPosition: "TRIM_HORIZON",
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ data: { stream: ["feedback"] } }) }] },
    });
  });

  test("every function is ARM64 on Node.js 22", () => {
    const fns = template.findResources("AWS::Lambda::Function");
    assert.ok(Object.keys(fns).length >= 2);
    for (const fn of Object.values(fns)) {
      const props = (fn as { Properties: Record<string, unknown> }).Properties;
      if (String(props.Handler).startsWith("index.")) {
        assert.deepEqual(props.Architectures, ["arm64"]);
        assert.equal(props.Runtime, "nodejs22.x");
      }
    }
  });

  test("the HTTP API routes every ingest route to the ingest function", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
      RouteKey: "POST /v1/streams/{stream}/records",
    });
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "GET /v1/health" });
  });
});
