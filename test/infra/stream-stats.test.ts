/**
 * Per-stream statistics in CDK: the admin function alone may read metrics back (GetMetricData,
 * which AWS grants only on `*`, acknowledged with its reason), the dashboard has a row per stream
 * on the functions' EMF metrics, and the app alarms on its end-to-end delivery lag.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  asList,
  identityStatements,
  resourcesOf,
  type Synthesized,
  statementsOf,
  synthesize,
} from "./synth.ts";

let s: Synthesized;
before(() => {
  s = synthesize("sluice.yaml");
});

describe("SluiceStack from sluice.yaml: stream statistics", () => {
  test("only the admin function may call GetMetricData, and nothing else of CloudWatch", () => {
    const reads = statementsOf(s, "sluice-admin").filter((st) =>
      asList(st.Action).some((a) => a.startsWith("cloudwatch:")),
    );
    assert.deepEqual(
      reads.map((st) => [asList(st.Action), st.Resource, st.Effect]),
      [[["cloudwatch:GetMetricData"], "*", "Allow"]],
    );
    const others = identityStatements(s).filter(
      ({ statement, roles }) =>
        asList(statement.Action).some((a) => a.startsWith("cloudwatch:")) &&
        !roles.some((r) => /IngestAdmin/.test(JSON.stringify(r))),
    );
    assert.deepEqual(others, []);
  });

  test("the wildcard is acknowledged on the admin role with the reason AWS requires it", () => {
    const ack = s.suppressions.filter(
      (x) =>
        x.ruleName === "AwsSolutions-IAM5[Resource::*]" &&
        x.violatingConstructs.some((c) => c.constructPath.includes("/Ingest/Admin/Role")),
    );
    assert.ok(ack.length > 0, JSON.stringify(s.suppressions.map((x) => x.ruleName)));
    assert.ok(
      ack.every((x) => /GetMetricData/.test(x.reason) && /only on \*/.test(x.reason)),
      ack[0]?.reason,
    );
    assert.deepEqual(s.violations, []);
  });

  test("the dashboard has a row per stream: accepted, duplicates, rejected by code, delivered, bytes, files, lag", () => {
    const [, dashboard] = resourcesOf(s, "AWS::CloudWatch::Dashboard")[0]!;
    // The body is a Fn::Join of text and references: the text alone (references as "REF") parses.
    const parts = (dashboard.DashboardBody as { "Fn::Join": [string, unknown[]] })["Fn::Join"][1];
    const body = JSON.parse(parts.map((p) => (typeof p === "string" ? p : "REF")).join("")) as {
      widgets: { properties: { title?: string; markdown?: string; metrics?: unknown[][] } }[];
    };
    assert.ok(body.widgets.some((w) => w.properties.markdown === "## Stream feedback"));
    const metrics = body.widgets
      .filter((w) => w.properties.title?.startsWith("feedback: "))
      .flatMap((w) => w.properties.metrics ?? []);
    const plain = metrics
      .filter((m) => typeof m[0] === "string")
      .map((m) => m.filter((x) => typeof x === "string").join(" "));
    // The API's and the import jobs' counts, each pair added by an expression (as the stats route adds them).
    const intake = ["BytesAccepted", "RecordsAccepted", "RecordsDuplicate", "RecordsRejected"].flatMap(
      (name) => [
        `Sluice/sluice ${name} Stream feedback service sluice-import-chunk`,
        `Sluice/sluice ${name} Stream feedback service sluice-ingest`,
      ],
    );
    assert.deepEqual(
      plain.sort(),
      [
        ...intake,
        "Sluice/sluice DeliveryLag Pipeline feedback-lake Stream feedback service sluice-batch",
        "Sluice/sluice FilesWritten Pipeline feedback-lake Stream feedback service sluice-batch",
        "Sluice/sluice RecordsDelivered Pipeline feedback-lake Stream feedback service sluice-batch",
      ].sort(),
    );
    const expressions = metrics.map((m) => (m[0] as { expression?: string }).expression).filter(Boolean);
    assert.deepEqual(expressions.sort(), [
      "FILL(bytesAcceptedApi, 0) + FILL(bytesAcceptedImports, 0)",
      "FILL(recordsAcceptedApi, 0) + FILL(recordsAcceptedImports, 0)",
      "FILL(recordsDuplicateApi, 0) + FILL(recordsDuplicateImports, 0)",
      "FILL(recordsRejectedApi, 0) + FILL(recordsRejectedImports, 0)",
      `SEARCH('{"Sluice/sluice","Code","Stream","service"} Stream="feedback" MetricName="RecordsRejected"', 'Sum', 60)`,
    ]);
  });

  test("one alarm for the app when records reach their files late, on the batcher's EMF DeliveryLag", () => {
    const lag = resourcesOf(s, "AWS::CloudWatch::Alarm").filter(([, p]) => p.MetricName === "DeliveryLag");
    assert.equal(lag.length, 1);
    const [, alarm] = lag[0]!;
    assert.equal(alarm.Namespace, "Sluice/sluice");
    assert.equal(alarm.Statistic, "Maximum");
    assert.equal(alarm.Threshold, 15 * 60_000);
    assert.equal(alarm.EvaluationPeriods, 3);
    assert.deepEqual(
      (alarm.Dimensions as { Name: string; Value: string }[]).map((d) => `${d.Name}=${d.Value}`).sort(),
      ["service=sluice-batch"],
    );
    assert.equal(alarm.TreatMissingData, "notBreaching");
  });
});
