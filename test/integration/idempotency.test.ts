/** The idempotency store against DynamoDB Local: call counts for a 500-record request, expiry, release. */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { createAwsClients } from "../../functions/core/aws-clients.ts";
import { IdempotencyStore } from "../../functions/core/idempotency.ts";
import { endpoint, uniqueApp } from "../support/env.ts";

const clients = createAwsClients({ endpoint: endpoint(), region: "us-east-1" });
const table = `${uniqueApp("idem")}-idempotency`;

before(async () => {
  await clients.dynamo.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
    }),
  );
});

test("a 500-key request costs 5 BatchGetItem + 500 conditional PutItem + 20 BatchWriteItem; its retry costs 5 reads", async () => {
  const store = new IdempotencyStore(clients.dynamo, table);
  const claims = Array.from({ length: 500 }, (_, i) => ({ key: `k-${i}`, recordId: `r-${i}` }));
  const first = await store.claim("s", claims, 86_400);
  assert.ok(first.every((o) => o.kind === "claimed"));
  await store.complete(
    "s",
    claims.map((c) => ({ ...c, shardId: "shardId-0", sequenceNumber: "1" })),
    86_400,
  );
  assert.deepEqual(store.calls, { batchGet: 5, put: 500, batchWrite: 20, delete: 0 });

  const retry = new IdempotencyStore(clients.dynamo, table);
  const again = await retry.claim(
    "s",
    claims.map((c) => ({ ...c, recordId: `new-${c.key}` })),
    86_400,
  );
  assert.ok(again.every((o, i) => o.kind === "duplicate" && o.recordId === `r-${i}`));
  assert.deepEqual(retry.calls, { batchGet: 5, put: 0, batchWrite: 0, delete: 0 });
});

test("an expired claim counts as absent, and a released claim can be taken again", async () => {
  let now = Date.UTC(2026, 10, 23);
  const store = new IdempotencyStore(clients.dynamo, table, 60, () => now);
  const claim = [{ key: "exp", recordId: "r1" }];
  assert.equal((await store.claim("s", claim, 100))[0]!.kind, "claimed");
  await store.complete("s", [{ ...claim[0]!, shardId: "a", sequenceNumber: "1" }], 100);
  assert.deepEqual((await store.claim("s", [{ key: "exp", recordId: "r2" }], 100))[0], {
    kind: "duplicate",
    recordId: "r1",
  });
  now += 101_000;
  assert.equal((await store.claim("s", [{ key: "exp", recordId: "r3" }], 100))[0]!.kind, "claimed");
  const other = [{ key: "rel", recordId: "x1" }];
  assert.equal((await store.claim("s", other, 100))[0]!.kind, "claimed");
  assert.equal((await store.claim("s", [{ key: "rel", recordId: "x2" }], 100))[0]!.kind, "in-progress");
  await store.release("s", other);
  assert.equal((await store.claim("s", [{ key: "rel", recordId: "x3" }], 100))[0]!.kind, "claimed");
});
