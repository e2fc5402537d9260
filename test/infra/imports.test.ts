/**
 * Import jobs in CDK: the chunk queue (KMS, TLS only, a dead-letter queue after 5 deliveries), the
 * chunk function's event source mapping (batch size 1, partial batch responses) and reserved
 * concurrency, the two routes on the HTTP API, and grants no wider than the imports/ prefix of
 * the sink buckets; cdk-nag clean.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Match } from "aws-cdk-lib/assertions";
import { asList, resourcesOf, type Statement, type Synthesized, statementsOf, synthesize } from "./synth.ts";

let s: Synthesized;
before(() => {
  s = synthesize("sluice.yaml");
});

const actionsOf = (statements: readonly Statement[]) =>
  [...new Set(statements.flatMap((st) => asList(st.Action)))].sort();
const text = (v: unknown) => JSON.stringify(v);

describe("import jobs in CDK", () => {
  test("chunks queue on a KMS-encrypted queue whose dead-letter queue takes a chunk after 5 deliveries", () => {
    const dlqId = resourcesOf(s, "AWS::SQS::Queue").find(
      ([, p]) => p.QueueName === "sluice-import-chunks-dlq",
    )![0];
    s.template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "sluice-import-chunks",
      KmsMasterKeyId: Match.objectLike({ "Fn::GetAtt": [Match.stringLikeRegexp("^DataKey"), "Arn"] }),
      VisibilityTimeout: 1800,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] }, maxReceiveCount: 5 },
    });
    s.template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "sluice-import-chunks-dlq",
      KmsMasterKeyId: Match.anyValue(),
      MessageRetentionPeriod: 1209600,
    });
  });

  test("the chunk function takes one message at a time with partial batch responses, at most 5 at once", () => {
    s.template.hasResourceProperties("AWS::Lambda::Function", {
      FunctionName: "sluice-import-chunk",
      ReservedConcurrentExecutions: 5,
      Timeout: 300,
    });
    s.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 5 },
      EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^ImportsChunks"), "Arn"] },
    });
  });

  test("POST /v1/imports and GET /v1/imports/{id} go to the imports function", () => {
    const routes = resourcesOf(s, "AWS::ApiGatewayV2::Route").map(([, p]) => p.RouteKey);
    assert.ok(routes.includes("POST /v1/imports"));
    assert.ok(routes.includes("GET /v1/imports/{id}"));
    const integrations = resourcesOf(s, "AWS::ApiGatewayV2::Integration").filter(([id]) =>
      id.startsWith("IngestApiPOSTv1imports"),
    );
    assert.equal(integrations.length, 1);
    assert.match(text(integrations[0]![1].IntegrationUri), /ImportsApi/);
  });

  test("the chunk function reads only imports/ and writes only errors/imports/ of the sink bucket; it writes only job items", () => {
    const statements = statementsOf(s, "sluice-import-chunk");
    const s3 = statements.filter((st) => asList(st.Action).some((a) => a.startsWith("s3:")));
    assert.deepEqual(
      s3.map((st) => [
        asList(st.Action).sort(),
        text(st.Resource).match(/\/(imports|errors\/imports)\/\*/)?.[1],
      ]),
      [
        [["s3:GetObject"], "imports"],
        [["s3:PutObject"], "errors/imports"],
      ],
    );
    const control = statements.filter((st) => text(st.Resource).includes("TablesControl"));
    assert.deepEqual(actionsOf(control), ["dynamodb:GetItem", "dynamodb:UpdateItem"]);
    const update = control.find((st) => asList(st.Action).includes("dynamodb:UpdateItem"))!;
    assert.deepEqual(update.Condition, {
      "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["import#*"] },
    });
    assert.ok(actionsOf(statements).includes("kinesis:PutRecords"));
    assert.ok(!actionsOf(statements).some((a) => a === "s3:DeleteObject" || a === "s3:ListBucket"));
  });

  test("the imports function lists only under imports/, sends only to the chunk queue, and reads API keys", () => {
    const statements = statementsOf(s, "sluice-imports");
    const list = statements.find((st) => asList(st.Action).includes("s3:ListBucket"))!;
    assert.deepEqual(list.Condition, { StringLike: { "s3:prefix": ["imports/*"] } });
    assert.deepEqual(actionsOf(statements.filter((st) => text(st.Resource).includes("ImportsChunks"))), [
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
    ]);
    assert.ok(
      !actionsOf(statements).includes("kinesis:PutRecords"),
      "the API function puts nothing on the stream",
    );
  });

  test("cdk-nag finds nothing unacknowledged", () => {
    assert.deepEqual(s.violations, []);
  });
});
