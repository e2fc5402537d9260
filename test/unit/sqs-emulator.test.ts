/**
 * The embedded stack's SQS emulator (test infrastructure) through the real AWS SDK v3 client over
 * AWS JSON 1.0: send and receive with the SDK's MD5 checks, visibility and deletion, a redrive to
 * the dead-letter queue after maxReceiveCount receives, and the errors the SDK maps to classes.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { type SqsServer, startSqsServer } from "../../localstack/sqs/server.ts";

let server: SqsServer;
let sqs: SQSClient;
before(async () => {
  server = await startSqsServer();
  sqs = new SQSClient({
    endpoint: server.url,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
});
after(async () => {
  sqs?.destroy();
  await server?.stop();
});

const receive = (QueueUrl: string, VisibilityTimeout?: number) =>
  sqs
    .send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
        ...(VisibilityTimeout === undefined ? {} : { VisibilityTimeout }),
      }),
    )
    .then((r) => r.Messages ?? []);

describe("SQS emulator", () => {
  test("messages sent one and ten at a time come back in order with their bodies; a deleted one is gone", async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "orders" }));
    assert.equal((await sqs.send(new GetQueueUrlCommand({ QueueName: "orders" }))).QueueUrl, QueueUrl);
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "first é" }));
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: Array.from({ length: 3 }, (_, i) => ({ Id: `m${i}`, MessageBody: `m${i}` })),
      }),
    );
    const got = await receive(QueueUrl!);
    assert.deepEqual(
      got.map((m) => m.Body),
      ["first é", "m0", "m1", "m2"],
    );
    assert.equal(got[0]!.Attributes?.ApproximateReceiveCount, "1");
    assert.deepEqual(await receive(QueueUrl!), [], "received messages are invisible");
    for (const m of got)
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }));
    assert.equal(attrs.Attributes?.ApproximateNumberOfMessages, "0");
    assert.equal(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible, "0");
  });

  test("a message received and not deleted comes back; after maxReceiveCount receives it moves to the dead-letter queue", async () => {
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: "chunks-dlq" }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: "chunks",
        Attributes: {
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: "2" }),
        },
      }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "poison" }));
    for (const count of ["1", "2"]) {
      const [m] = await receive(QueueUrl!, 30);
      assert.equal(m?.Attributes?.ApproximateReceiveCount, count);
      // Back at once, as a failed invocation's message is after its visibility timeout.
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl,
          ReceiptHandle: m!.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    assert.deepEqual(await receive(QueueUrl!), []);
    const dead = await receive(dlq.QueueUrl!);
    assert.deepEqual(
      dead.map((m) => m.Body),
      ["poison"],
    );
  });

  test("an unknown queue is QueueDoesNotExist to the SDK", async () => {
    await assert.rejects(sqs.send(new GetQueueUrlCommand({ QueueName: "missing" })), QueueDoesNotExist);
    await assert.rejects(
      sqs.send(new SendMessageCommand({ QueueUrl: `${server.url}/000000000000/missing`, MessageBody: "x" })),
      QueueDoesNotExist,
    );
  });
});
