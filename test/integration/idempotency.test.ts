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

test("a 500-key request costs 5 BatchGetItem + 5 TransactWriteItems + 20 BatchWriteItem; its retry costs 5 reads", async () => {
  const store = new IdempotencyStore(clients.dynamo, table);
  const claims = Array.from({ length: 500 }, (_, i) => ({ key: `k-${i}`, recordId: `r-${i}` }));
  const first = await store.claim("s", claims, 86_400);
  assert.ok(first.every((o) => o.kind === "claimed"));
  await store.complete(
    "s",
    claims.map((c) => ({ ...c, shardId: "shardId-0", sequenceNumber: "1" })),
    86_400,
  );
  assert.deepEqual(store.calls, { batchGet: 5, transactWrite: 5, batchWrite: 20, delete: 0 });

  const retry = new IdempotencyStore(clients.dynamo, table);
  const again = await retry.claim(
    "s",
    claims.map((c) => ({ ...c, recordId: `new-${c.key}` })),
    86_400,
  );
  assert.ok(again.every((o, i) => o.kind === "duplicate" && o.recordId === `r-${i}`));
  assert.deepEqual(retry.calls, { batchGet: 5, transactWrite: 0, batchWrite: 0, delete: 0 });
});

test("a transaction some of whose keys are taken claims the rest and reports the others", async () => {
  const store = new IdempotencyStore(clients.dynamo, table);
  const taken = [
    { key: "t-3", recordId: "old-3" },
    { key: "t-77", recordId: "old-77" },
  ];
  // Claimed (IN_PROGRESS) and completed, but between this request's lookup and its transaction:
  // the lookup is skipped by claiming through a store whose lookup saw nothing.
  assert.ok((await store.claim("race", taken, 100)).every((o) => o.kind === "claimed"));
  await store.complete("race", [{ ...taken[0]!, shardId: "a", sequenceNumber: "1" }], 100);
  const racer = new IdempotencyStore(clients.dynamo, table);
  (racer as unknown as { lookup: () => Promise<Map<string, unknown>> }).lookup = async () => new Map();
  const claims = Array.from({ length: 150 }, (_, i) => ({ key: `t-${i}`, recordId: `new-${i}` }));
  const out = await racer.claim("race", claims, 100);
  assert.deepEqual(out[3], { kind: "duplicate", recordId: "old-3" });
  assert.equal(out[77]!.kind, "in-progress");
  assert.equal(out.filter((o) => o.kind === "claimed").length, 148);
  // 2 chunks; the first is cancelled once (2 keys taken) and goes again.
  assert.equal(racer.calls.transactWrite, 3);
});

test("concurrent claims of one key: exactly one wins", async () => {
  const stores = Array.from({ length: 10 }, () => new IdempotencyStore(clients.dynamo, table));
  const out = await Promise.all(
    stores.map((s, i) => s.claim("conc", [{ key: "same", recordId: `r${i}` }], 100)),
  );
  assert.equal(out.filter((o) => o[0]!.kind === "claimed").length, 1);
  assert.ok(out.every((o) => o[0]!.kind === "claimed" || o[0]!.kind === "in-progress"));
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
