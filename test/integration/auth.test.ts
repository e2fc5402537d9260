/**
 * API keys against the local DynamoDB, in-process (functions/core/auth, not the HTTP surface):
 * only hashes are stored, lookups are cached per container, disabled keys stop working, and
 * `createAuth` turns headers into principals and refusals.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { ApiKeyStore, createAuth, hashApiKey, isApiKeyShaped } from "../../functions/core/auth/index.ts";
import { type AwsClients, createAwsClients } from "../../functions/core/aws-clients.ts";
import { SluiceError } from "../../functions/core/errors.ts";
import { TABLE_SCHEMAS } from "../../functions/core/table-schemas.ts";
import { endpoint, uniqueApp } from "../support/env.ts";

const table = `${uniqueApp("auth")}-api-keys`;
let clients: AwsClients;

/** A document client of its own that counts the requests it sends. */
function countingClient(): { dynamo: DynamoDBDocumentClient; calls: { count: number } } {
  const calls = { count: 0 };
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: endpoint(), region: "us-east-1" }),
  );
  dynamo.middlewareStack.add(
    (next) => async (args) => {
      calls.count++;
      return next(args);
    },
    { step: "initialize", name: "countCalls" },
  );
  return { dynamo, calls };
}

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = Date.now();
  return { now: () => t, advance: (ms) => (t += ms) };
}

before(async () => {
  clients = createAwsClients({ endpoint: endpoint(), region: "us-east-1" });
  const { partitionKey } = TABLE_SCHEMAS.apiKeys;
  await clients.dynamo.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: partitionKey.name, AttributeType: partitionKey.type }],
      KeySchema: [{ AttributeName: partitionKey.name, KeyType: "HASH" }],
    }),
  );
  await waitUntilTableExists({ client: clients.dynamo, maxWaitTime: 30 }, { TableName: table });
});

after(async () => {
  await clients?.dynamo.send(new DeleteTableCommand({ TableName: table }));
});

describe("ApiKeyStore (in-process, core)", () => {
  test("create returns the key once and stores only its SHA-256, with id, name, role and streams", async () => {
    const store = new ApiKeyStore(clients.dynamo, table);
    const { key, keyId } = await store.create({ name: "checkout", role: "writer", streams: ["orders"] });
    assert.ok(isApiKeyShaped(key));
    assert.match(keyId, /^key_[0-9a-f]{12}$/);

    const item = (
      await clients.dynamo.send(new GetCommand({ TableName: table, Key: { keyHash: hashApiKey(key) } }))
    ).Item;
    assert.deepEqual(
      { ...item, createdAt: typeof item?.createdAt },
      {
        keyHash: hashApiKey(key),
        keyId,
        name: "checkout",
        role: "writer",
        streams: ["orders"],
        createdAt: "string",
        disabled: false,
      },
    );
    const everything = JSON.stringify(
      (await clients.dynamo.send(new ScanCommand({ TableName: table }))).Items,
    );
    assert.ok(!everything.includes(key.slice(3)), "the key itself is stored nowhere");
  });

  test("lookup turns a key into its principal; unknown and malformed keys into nothing", async () => {
    const store = new ApiKeyStore(clients.dynamo, table);
    const { key, keyId } = await store.create({ name: "ops", role: "operator", streams: "*" });
    assert.deepEqual(await store.lookup(key), {
      id: keyId,
      kind: "api-key",
      role: "operator",
      roles: ["operator"],
      streams: "*",
    });
    const other = (
      await new ApiKeyStore(clients.dynamo, table).create({ name: "x", role: "reader", streams: [] })
    ).key;
    assert.equal(await store.lookup(`${other.slice(0, -1)}${other.endsWith("A") ? "B" : "A"}`), undefined);
    assert.equal(await store.lookup("sk_not-a-key"), undefined);
  });

  test("a streams list containing * means every stream; repeats are dropped", async () => {
    const store = new ApiKeyStore(clients.dynamo, table);
    const all = await store.create({ name: "a", role: "writer", streams: ["orders", "*"] });
    assert.equal((await store.lookup(all.key))?.streams, "*");
    const some = await store.create({ name: "b", role: "writer", streams: ["orders", "orders", "payments"] });
    assert.deepEqual((await store.lookup(some.key))?.streams, ["orders", "payments"]);
  });

  test("create refuses bad stream names and empty names", async () => {
    const store = new ApiKeyStore(clients.dynamo, table);
    await assert.rejects(store.create({ name: "a", role: "writer", streams: ["Orders!"] }), {
      code: "INVALID_STREAM_NAME",
      path: "/streams/0",
    });
    await assert.rejects(store.create({ name: " ", role: "writer", streams: "*" }), { path: "/name" });
  });

  test("a found key is read from DynamoDB once per cache time; concurrent requests share the read", async () => {
    const { dynamo, calls } = countingClient();
    const clock = manualClock();
    const store = new ApiKeyStore(dynamo, table, { clock: clock.now });
    const { key } = await new ApiKeyStore(clients.dynamo, table).create({
      name: "c",
      role: "writer",
      streams: "*",
    });

    const principals = await Promise.all(Array.from({ length: 10 }, () => store.lookup(key)));
    assert.ok(principals.every((p) => p?.role === "writer"));
    assert.equal(calls.count, 1);
    clock.advance(4_900);
    await store.lookup(key);
    assert.equal(calls.count, 1, "still cached within 5 s");
    clock.advance(200);
    await store.lookup(key);
    assert.equal(calls.count, 2, "read again after 5 s");
  });

  test("an unknown key is remembered briefly, so a burst of bad requests costs one read", async () => {
    const { dynamo, calls } = countingClient();
    const clock = manualClock();
    const store = new ApiKeyStore(dynamo, table, { clock: clock.now });
    const unknown = `sk_${"A".repeat(43)}`;
    for (let i = 0; i < 5; i++) assert.equal(await store.lookup(unknown), undefined);
    assert.equal(calls.count, 1);
    clock.advance(5_001);
    await store.lookup(unknown);
    assert.equal(calls.count, 2, "read again after 5 s: a key created meanwhile starts working");
  });

  test("a revoked key stops working at once here, and elsewhere within the 5 s cache time", async () => {
    const clock = manualClock();
    const here = new ApiKeyStore(clients.dynamo, table, { clock: clock.now });
    const elsewhere = new ApiKeyStore(clients.dynamo, table, { clock: clock.now });
    const { key, keyId } = await here.create({ name: "d", role: "writer", streams: "*" });
    assert.ok(await here.lookup(key));
    assert.ok(await elsewhere.lookup(key));

    const revoked = await here.revoke(keyId);
    assert.equal(revoked.outcome, "revoked");
    assert.equal(revoked.outcome === "revoked" && revoked.key.state, "revoked");
    assert.equal(await here.lookup(key), undefined);
    assert.ok(await elsewhere.lookup(key), "another container keeps its cached answer");
    clock.advance(5_001);
    assert.equal(await elsewhere.lookup(key), undefined);
    assert.equal((await here.revoke(keyId)).outcome, "already-revoked");
    assert.equal((await here.revoke("key_000000000000")).outcome, "not-found");
  });

  test("a key with an expiry works until then and is listed as expired after", async () => {
    const clock = manualClock();
    const store = new ApiKeyStore(clients.dynamo, table, { clock: clock.now });
    const expiresAt = new Date(clock.now() + 3_000).toISOString();
    const { key, keyId } = await store.create({ name: "e", role: "reader", streams: "*", expiresAt });
    assert.ok(await store.lookup(key));
    clock.advance(3_001);
    assert.equal(await store.lookup(key), undefined, "the cache does not outlive the expiry");
    const listed = (await store.list()).find((k) => k.keyId === keyId);
    assert.equal(listed?.state, "expired");
    assert.equal(listed?.expiresAt, expiresAt);
    await assert.rejects(store.create({ name: "f", role: "reader", streams: "*", expiresAt: "tomorrow" }), {
      path: "/expiresAt",
    });
  });
});

describe("createAuth with API keys (in-process, core)", () => {
  test("Bearer and x-api-key authenticate; the role and streams decide", async () => {
    const auth = createAuth({ apiKeys: true }, { dynamo: clients.dynamo, apiKeysTable: table });
    const { key, keyId } = await auth.apiKeys!.create({ name: "e", role: "writer", streams: ["orders"] });
    const write = { kind: "write", stream: "orders" } as const;
    assert.equal((await auth.check({ authorization: `Bearer ${key}` }, write))?.id, keyId);
    assert.equal((await auth.check({ "x-api-key": key }, write))?.id, keyId);
    await assert.rejects(
      auth.check({ "x-api-key": key }, { kind: "write", stream: "payments" }),
      (err) => err instanceof SluiceError && err.status === 403 && !err.message.includes(key),
    );
    await assert.rejects(
      auth.check({ "x-api-key": key }, { kind: "schema:write" }),
      (err) => err instanceof SluiceError && err.status === 403,
    );

    await auth.apiKeys!.revoke(keyId);
    await assert.rejects(
      auth.check({ "x-api-key": key }, write),
      (err) =>
        err instanceof SluiceError &&
        err.status === 401 &&
        err.message === "API key not recognised or disabled" &&
        !JSON.stringify(err.headers).includes(key),
    );
  });

  test("when DynamoDB cannot be reached, a key is answered with 503, not 401", async () => {
    const down = createAwsClients({ endpoint: "http://127.0.0.1:1", region: "us-east-1" });
    const auth = createAuth({ apiKeys: true }, { dynamo: down.dynamo, apiKeysTable: table });
    const key = `sk_${"B".repeat(43)}`;
    await assert.rejects(
      auth.authenticate({ "x-api-key": key }),
      (err) => err instanceof SluiceError && err.status === 503 && err.code === "UNAVAILABLE",
    );
  });
});
