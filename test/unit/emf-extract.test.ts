/** The local runner's EMF extraction, as CloudWatch Logs reads EMF: each dimension set, each value. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { extractEmf } from "../../localstack/lambda/emf-extract.ts";

test("an EMF document becomes one datum per dimension set and metric, list values as samples", () => {
  const line = JSON.stringify({
    _aws: {
      Timestamp: 1_796_000_000_000,
      CloudWatchMetrics: [
        {
          Namespace: "Sluice/shop",
          Dimensions: [["service", "Stream"], ["service"]],
          Metrics: [
            { Name: "RecordsAccepted", Unit: "Count" },
            { Name: "DeliveryLag", Unit: "Milliseconds", StorageResolution: 1 },
          ],
        },
      ],
    },
    service: "sluice-ingest",
    Stream: "orders",
    RecordsAccepted: 5,
    DeliveryLag: [10, 20, 30],
  });
  const [out] = extractEmf(line);
  assert.equal(out?.namespace, "Sluice/shop");
  const data = out!.data.map((d) => ({
    name: d.MetricName,
    dims: d.Dimensions!.map((x) => `${x.Name}=${x.Value}`).join(","),
    values: d.Values,
    unit: d.Unit,
    high: d.StorageResolution,
    t: d.Timestamp!.getTime(),
  }));
  assert.deepEqual(data, [
    {
      name: "RecordsAccepted",
      dims: "service=sluice-ingest,Stream=orders",
      values: [5],
      unit: "Count",
      high: undefined,
      t: 1_796_000_000_000,
    },
    {
      name: "DeliveryLag",
      dims: "service=sluice-ingest,Stream=orders",
      values: [10, 20, 30],
      unit: "Milliseconds",
      high: 1,
      t: 1_796_000_000_000,
    },
    {
      name: "RecordsAccepted",
      dims: "service=sluice-ingest",
      values: [5],
      unit: "Count",
      high: undefined,
      t: 1_796_000_000_000,
    },
    {
      name: "DeliveryLag",
      dims: "service=sluice-ingest",
      values: [10, 20, 30],
      unit: "Milliseconds",
      high: 1,
      t: 1_796_000_000_000,
    },
  ]);
});

test("plain log lines, broken JSON and a dimension without a value at the root give no metrics", () => {
  assert.deepEqual(extractEmf('{"level":"INFO","message":"ingested"}'), []);
  assert.deepEqual(extractEmf('{"_aws": {'), []);
  const noValue = JSON.stringify({
    _aws: {
      Timestamp: 1,
      CloudWatchMetrics: [{ Namespace: "N", Dimensions: [["Stream"]], Metrics: [{ Name: "M" }] }],
    },
    M: 1,
  });
  assert.deepEqual(extractEmf(noValue), []);
});
