import { CreateStreamCommand, PutRecordsCommand, GetShardIteratorCommand, GetRecordsCommand, ListShardsCommand, DescribeStreamSummaryCommand } from "@aws-sdk/client-kinesis";
import { createAwsClients } from "../functions/core/aws-clients.ts";
import { startEmbeddedStack } from "../localstack/stack.ts";
import { useLocalStackDefaults } from "../bin/local-env.ts";
useLocalStackDefaults();
const stack = await startEmbeddedStack({ port: 0 });
const c = createAwsClients({ endpoint: stack.endpoint, region: "us-east-1" });
await c.kinesis.send(new CreateStreamCommand({ StreamName: "k", StreamModeDetails: { StreamMode: "ON_DEMAND" } }));
for (;;) { const d = await c.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: "k" })); if (d.StreamDescriptionSummary?.StreamStatus === "ACTIVE") break; await new Promise(r => setTimeout(r, 200)); }
const rec = Buffer.from(JSON.stringify({ v: 1, id: "01JABCDEFGHJKMNPQRSTVWXYZ0", stream: "feedback", data: { customerId: "cus_0001", content: "text of something here", category: "other", isNegative: false, tags: ["t"], ts: "2026-11-23T10:15:00Z" } }));
let total = 0;
for (let round = 0; round < 40; round++) {
  const t = performance.now();
  await Promise.all(Array.from({ length: 4 }, () => c.kinesisPut.send(new PutRecordsCommand({ StreamName: "k", Records: Array.from({ length: 500 }, (_, i) => ({ Data: rec, PartitionKey: `p${total + i}-${Math.random()}` })) }))));
  total += 2000;
  const s = (performance.now() - t) / 1000;
  if (round % 5 === 0 || round === 39) {
    const shards = await c.kinesis.send(new ListShardsCommand({ StreamName: "k" }));
    const it = await c.kinesis.send(new GetShardIteratorCommand({ StreamName: "k", ShardId: shards.Shards![0]!.ShardId!, ShardIteratorType: "TRIM_HORIZON" }));
    const g0 = performance.now();
    const got = await c.kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator!, Limit: 1000 }));
    console.log(`stream holds ${total}: 4x500 PutRecords ${s.toFixed(2)} s (${(2000 / s).toFixed(0)} rec/s); GetRecords 1000 ${((performance.now() - g0) / 1000).toFixed(2)} s (${got.Records?.length})`);
  }
}
await stack.stop();
