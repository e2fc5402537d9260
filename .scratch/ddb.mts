import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, PutCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { createAwsClients } from "../functions/core/aws-clients.ts";
import { startEmbeddedStack } from "../localstack/stack.ts";
import { useLocalStackDefaults } from "../bin/local-env.ts";
useLocalStackDefaults();
const stack = await startEmbeddedStack({ port: 0 });
const c = createAwsClients({ endpoint: stack.endpoint, region: "us-east-1" });
const T = "bench-idem";
await c.dynamo.send(new CreateTableCommand({ TableName: T, BillingMode: "PAY_PER_REQUEST", AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }] }));
const item = (k: string) => ({ pk: k, status: "IN_PROGRESS", recordId: "01JABCDEFGHJKMNPQRSTVWXYZ0", expiresAt: 2e9, lockExpiresAt: 2e9, claimedAtMs: Date.now(), partitionKey: "cus_000001" });
const put = (k: string) => ({ TableName: T, Item: item(k), ConditionExpression: "attribute_not_exists(pk) OR expiresAt <= :now", ExpressionAttributeValues: { ":now": 1 } });
let n = 0;
async function timed(name: string, count: number, f: () => Promise<unknown>) {
  const t = performance.now(); await f(); const s = (performance.now() - t) / 1000;
  console.log(name.padEnd(50), count, "items", s.toFixed(2), "s", (count / s).toFixed(0), "items/s");
}
for (let round = 0; round < 2; round++) {
await timed("1 transact of 100", 100, () => c.dynamo.send(new TransactWriteCommand({ TransactItems: Array.from({ length: 100 }, () => ({ Put: put(`k${n++}`) })) })));
await timed("5 transacts of 100 parallel", 500, () => Promise.all(Array.from({ length: 5 }, () => c.dynamo.send(new TransactWriteCommand({ TransactItems: Array.from({ length: 100 }, () => ({ Put: put(`k${n++}`) })) })))));
await timed("1 transact of 25", 25, () => c.dynamo.send(new TransactWriteCommand({ TransactItems: Array.from({ length: 25 }, () => ({ Put: put(`k${n++}`) })) })));
await timed("500 cond puts, 50 parallel", 500, async () => { const ks = Array.from({ length: 500 }, () => `k${n++}`); for (let i = 0; i < 500; i += 50) await Promise.all(ks.slice(i, i + 50).map((k) => c.dynamo.send(new PutCommand(put(k))))); });
await timed("500 cond puts, all parallel", 500, () => Promise.all(Array.from({ length: 500 }, () => c.dynamo.send(new PutCommand(put(`k${n++}`))))));
await timed("20 batchwrites of 25 sequential", 500, async () => { for (let i = 0; i < 20; i++) await c.dynamo.send(new BatchWriteCommand({ RequestItems: { [T]: Array.from({ length: 25 }, () => ({ PutRequest: { Item: item(`k${n++}`) } })) } })); });
await timed("20 batchwrites of 25 parallel", 500, () => Promise.all(Array.from({ length: 20 }, () => c.dynamo.send(new BatchWriteCommand({ RequestItems: { [T]: Array.from({ length: 25 }, () => ({ PutRequest: { Item: item(`k${n++}`) } })) } })))));
}
await stack.stop();
