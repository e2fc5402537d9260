/**
 * Alarms reach someone: the manifest's email, HTTPS and Slack (Chatbot) subscriptions on the
 * alarm topic, the data key letting CloudWatch publish to that topic only, and alarms on ingest
 * 5xx and errors, batch failures, iterator age and dead letters.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { estimatedResources } from "../../functions/core/manifest/deploy-limits.ts";
import {
  ACCOUNT,
  asList,
  REGION,
  resourcesOf,
  type Statement,
  type Synthesized,
  synthesize,
} from "./synth.ts";
import { baseManifest, validate } from "./variants.ts";

let s: Synthesized;
let resources: number;
before(() => {
  const raw = {
    ...baseManifest(),
    alarms: {
      email: ["oncall@example.com"],
      https: ["https://events.pagerduty.example/integration/abc"],
      slack: [{ workspaceId: "T0123ABCD", channelId: "C0123ABCD" }],
    },
  };
  const check = validate(raw, { stage: "prod" });
  assert.deepEqual(check.issues, []);
  resources = estimatedResources(check.manifest!);
  s = synthesize(check.manifest!, { stage: "prod" });
});

describe("alarms", () => {
  test("the topic has the manifest's email and HTTPS subscribers and a Slack channel", () => {
    s.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "oncall@example.com",
    });
    s.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "https",
      Endpoint: "https://events.pagerduty.example/integration/abc",
    });
    const [, slack] = resourcesOf(s, "AWS::Chatbot::SlackChannelConfiguration")[0]!;
    assert.equal(slack.SlackWorkspaceId, "T0123ABCD");
    assert.equal(slack.SlackChannelId, "C0123ABCD");
    assert.equal(asList(slack.SnsTopicArns as unknown[]).length, 1);
    assert.equal(Object.keys(s.json.Resources).length, resources, "the deploy estimate counts them");
  });

  test("the data key lets CloudWatch use it for this stage's alarm topic only", () => {
    const [, key] = resourcesOf(s, "AWS::KMS::Key")[0]!;
    const st = (key.KeyPolicy as { Statement: Statement[] }).Statement.find((x) =>
      JSON.stringify(x.Principal).includes("cloudwatch.amazonaws.com"),
    )!;
    assert.deepEqual(asList(st.Action).sort(), ["kms:Decrypt", "kms:GenerateDataKey"]);
    assert.match(
      JSON.stringify(s.stack.resolve(st.Condition)),
      new RegExp(`:sns:${REGION}:${ACCOUNT}:sluice-prod-alarms`),
    );
  });

  test("alarms on API 5xx, ingest and registry errors, batch failures, iterator age and dead letters, all to the topic", () => {
    const alarms = resourcesOf(s, "AWS::CloudWatch::Alarm");
    const metric = (ns: string, name: string) =>
      alarms.filter(([, p]) => p.Namespace === ns && p.MetricName === name).length;
    assert.equal(metric("AWS/ApiGateway", "5xx"), 1);
    assert.equal(metric("AWS/Lambda", "Errors"), 4, "ingest, registry, batcher, import chunks");
    assert.equal(metric("AWS/Lambda", "IteratorAge"), 1);
    assert.equal(
      metric("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
      2,
      "the pipeline's and the import chunks' dead letters",
    );
    const topic = resourcesOf(s, "AWS::SNS::Topic")[0]![0];
    for (const [id, p] of alarms) assert.deepEqual(p.AlarmActions, [{ Ref: topic }], id);
  });
});
