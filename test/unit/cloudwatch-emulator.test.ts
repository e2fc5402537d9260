/**
 * The embedded CloudWatch (test infrastructure) as @aws-sdk/client-cloudwatch sees it over the
 * wire: AWS JSON 1.0, gzipped PutMetricData bodies, GetMetricData sums per period, SEARCH with
 * dynamic labels, and CloudWatch's errors as the SDK's exception classes.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CloudWatchClient,
  GetMetricDataCommand,
  InvalidParameterValueException,
  PutMetricDataCommand,
} from "@aws-sdk/client-cloudwatch";
import { type CloudWatchServer, startCloudWatchServer } from "../../localstack/cloudwatch/server.ts";

let server: CloudWatchServer;
let cw: CloudWatchClient;
before(async () => {
  server = await startCloudWatchServer();
  cw = new CloudWatchClient({
    endpoint: server.url,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
});
after(async () => {
  cw?.destroy();
  await server?.stop();
});

const minute = (ms: number) => Math.floor(ms / 60_000) * 60_000;

describe("CloudWatch emulator over the SDK", () => {
  test("datapoints put in two minutes come back as one sum per minute, newest first", async () => {
    const now = minute(Date.now());
    const dims = [
      { Name: "service", Value: "sluice-ingest" },
      { Name: "Stream", Value: "orders" },
    ];
    await cw.send(
      new PutMetricDataCommand({
        Namespace: "Sluice/t1",
        MetricData: [
          {
            MetricName: "RecordsAccepted",
            Dimensions: dims,
            Value: 3,
            Unit: "Count",
            Timestamp: new Date(now - 60_000 + 5),
          },
          {
            MetricName: "RecordsAccepted",
            Dimensions: dims,
            Values: [2, 5],
            Counts: [1, 2],
            Unit: "Count",
            Timestamp: new Date(now + 1),
          },
          // Another stream's metric: not part of the answer.
          {
            MetricName: "RecordsAccepted",
            Dimensions: [dims[0]!, { Name: "Stream", Value: "other" }],
            Value: 100,
            Timestamp: new Date(now + 2),
          },
        ],
      }),
    );
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(now - 10 * 60_000),
        EndTime: new Date(now + 60_000),
        MetricDataQueries: [
          {
            Id: "accepted",
            MetricStat: {
              Metric: { Namespace: "Sluice/t1", MetricName: "RecordsAccepted", Dimensions: dims },
              Period: 60,
              Stat: "Sum",
            },
          },
          {
            Id: "biggest",
            MetricStat: {
              Metric: { Namespace: "Sluice/t1", MetricName: "RecordsAccepted", Dimensions: dims },
              Period: 600,
              Stat: "Maximum",
            },
          },
        ],
      }),
    );
    const [accepted, biggest] = out.MetricDataResults!;
    assert.equal(accepted!.Label, "RecordsAccepted");
    assert.deepEqual(
      accepted!.Timestamps!.map((t) => t.getTime()),
      [now, now - 60_000],
    );
    assert.deepEqual(accepted!.Values, [12, 3]);
    assert.equal(accepted!.StatusCode, "Complete");
    assert.equal(
      biggest!.Values!.reduce((a, b) => Math.max(a, b), 0),
      5,
    );
  });

  test("a gzipped PutMetricData (over the SDK's compression threshold) is stored whole", async () => {
    const now = Date.now();
    const MetricData = Array.from({ length: 400 }, (_, i) => ({
      MetricName: "Bulk",
      Dimensions: [{ Name: "Shard", Value: `shard-${String(i % 4).padStart(40, "0")}` }],
      Value: 1,
      Timestamp: new Date(now),
    }));
    await cw.send(new PutMetricDataCommand({ Namespace: "Sluice/t2", MetricData }));
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(now - 120_000),
        EndTime: new Date(now + 60_000),
        MetricDataQueries: [
          {
            Id: "bulk",
            Expression: `SEARCH('{Sluice/t2,Shard} MetricName="Bulk"', 'Sum', 60)`,
            // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudWatch's dynamic label syntax
            Label: "${PROP('Dim.Shard')}",
          },
        ],
      }),
    );
    const series = out.MetricDataResults!;
    assert.equal(series.length, 4);
    for (const s of series) {
      assert.equal(s.Id, "bulk");
      assert.match(s.Label!, /^shard-0+[0-3]$/);
      assert.equal(
        s.Values!.reduce((a, b) => a + b, 0),
        100,
      );
    }
  });

  test("SEARCH matches the schema's exact dimensions and quoted values whole", async () => {
    const now = Date.now();
    const put = (
      stream: string,
      code: string,
      value: number,
      extra: { Name: string; Value: string }[] = [],
    ) => ({
      MetricName: "RecordsRejected",
      Dimensions: [{ Name: "Stream", Value: stream }, { Name: "Code", Value: code }, ...extra],
      Value: value,
      Timestamp: new Date(now),
    });
    await cw.send(
      new PutMetricDataCommand({
        Namespace: "Sluice/t3",
        MetricData: [
          put("orders", "SCHEMA_VIOLATION", 2),
          put("orders", "RECORD_TOO_LARGE", 1),
          put("orders-eu", "SCHEMA_VIOLATION", 7),
          put("orders", "SCHEMA_VIOLATION", 50, [{ Name: "Pipeline", Value: "lake" }]),
        ],
      }),
    );
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(now - 60_000),
        EndTime: new Date(now + 60_000),
        MetricDataQueries: [
          {
            Id: "rejected",
            Expression: `SEARCH('{"Sluice/t3","Code","Stream"} Stream="orders" MetricName="RecordsRejected"', 'Sum', 60)`,
            // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudWatch's dynamic label syntax
            Label: "${PROP('Dim.Code')}",
          },
        ],
      }),
    );
    const byCode = Object.fromEntries(out.MetricDataResults!.map((r) => [r.Label, r.Values![0]]));
    assert.deepEqual(byCode, { SCHEMA_VIOLATION: 2, RECORD_TOO_LARGE: 1 });
  });

  test("bad requests are CloudWatch's errors, by class and message", async () => {
    await assert.rejects(
      cw.send(
        new PutMetricDataCommand({ Namespace: "AWS/EC2", MetricData: [{ MetricName: "x", Value: 1 }] }),
      ),
      (err: Error) => err instanceof InvalidParameterValueException && /reserved/.test(err.message),
    );
    await assert.rejects(
      cw.send(
        new GetMetricDataCommand({
          StartTime: new Date(),
          EndTime: new Date(Date.now() - 1000),
          MetricDataQueries: [{ Id: "a", Expression: "SEARCH('{X} y=\"z\"', 'Sum', 60)" }],
        }),
      ),
      (err: Error) => err instanceof InvalidParameterValueException && /StartTime/.test(err.message),
    );
    await assert.rejects(
      cw.send(
        new GetMetricDataCommand({
          StartTime: new Date(Date.now() - 60_000),
          EndTime: new Date(),
          MetricDataQueries: [{ Id: "a", Expression: "m1 * 2", Period: 60 }],
        }),
      ),
      (err: Error) => err.name === "InvalidParameterValueException" && /SEARCH/.test(err.message),
    );
    await assert.rejects(
      cw.send(
        new GetMetricDataCommand({
          StartTime: new Date(Date.now() - 60_000),
          EndTime: new Date(),
          MetricDataQueries: [
            { Id: "a", MetricStat: { Metric: { Namespace: "N", MetricName: "M" }, Period: 60, Stat: "p99" } },
          ],
        }),
      ),
      (err: Error) => err instanceof InvalidParameterValueException && /p99/.test(err.message),
    );
  });
});
