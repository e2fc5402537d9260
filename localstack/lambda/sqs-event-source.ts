/**
 * A local SQS event source mapping, as Lambda runs one: pollers receive up to `batchSize`
 * messages (long polling), invoke the function with an SQS event, delete what it processed and
 * leave the rest to the queue: the items a partial batch response names, or the whole batch when
 * the function throws, become visible again after the visibility timeout, and the queue's redrive
 * policy moves a message out of receives to its dead-letter queue. Works against the embedded
 * stack's SQS emulator and against real LocalStack alike.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { sleep } from "../../functions/core/backoff.ts";
import type { Logger } from "../../functions/core/logger.ts";

export interface SqsEventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueName: string;
  readonly region: string;
  readonly handler: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;
  readonly logger: Logger;
  /** @default 1 */
  readonly batchSize?: number;
  /** Pollers invoking at once, as the mapping's maximum concurrency. @default 1 */
  readonly concurrency?: number;
}

export interface SqsEventSource {
  /** Resolves once the queue holds nothing visible or in flight and no invocation runs. */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function startSqsEventSource(o: SqsEventSourceOptions): SqsEventSource {
  let stopping = false;
  // Stopping aborts the long polls in flight, so a runner stops at once rather than in up to 1 s.
  const abort = new AbortController();
  let running = 0;
  const url = o.sqs.send(new GetQueueUrlCommand({ QueueName: o.queueName })).then((r) => r.QueueUrl!);
  url.catch(() => {});
  const arn = `arn:aws:sqs:${o.region}:000000000000:${o.queueName}`;

  const poll = async (): Promise<void> => {
    const QueueUrl = await url;
    while (!stopping) {
      let messages: Message[];
      try {
        const out = await o.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl,
            MaxNumberOfMessages: o.batchSize ?? 1,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["All"],
          }),
          { abortSignal: abort.signal },
        );
        messages = out.Messages ?? [];
      } catch (err) {
        if (stopping) return;
        o.logger.warn("sqs receive failed", { error: (err as Error).name });
        await sleep(500);
        continue;
      }
      if (messages.length === 0) continue;
      running++;
      try {
        const event: SQSEvent = {
          Records: messages.map((m) => ({
            messageId: m.MessageId!,
            receiptHandle: m.ReceiptHandle!,
            body: m.Body ?? "",
            attributes: {
              ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
              SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
              SenderId: "000000000000",
              ApproximateFirstReceiveTimestamp:
                m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
            },
            messageAttributes: {},
            md5OfBody: m.MD5OfBody ?? "",
            eventSource: "aws:sqs",
            eventSourceARN: arn,
            awsRegion: o.region,
          })),
        };
        let failed: Set<string>;
        try {
          const answer = await o.handler(event);
          failed = new Set((answer?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        } catch (err) {
          o.logger.warn("sqs handler failed: the batch returns to the queue", { error: (err as Error).name });
          failed = new Set(messages.map((m) => m.MessageId!));
        }
        const done = messages.filter((m) => !failed.has(m.MessageId!));
        if (done.length > 0) {
          await o.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl,
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
        }
      } finally {
        running--;
      }
    }
  };

  const pollers = Array.from({ length: o.concurrency ?? 1 }, () =>
    poll().catch((err: Error) => o.logger.error("sqs event source stopped", { error: err.name })),
  );

  return {
    async drained(timeoutMs = 30_000) {
      const QueueUrl = await url;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const out = await o.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl,
            AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
          }),
        );
        const a = out.Attributes ?? {};
        const left =
          Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
        if (left === 0 && running === 0) return;
        if (Date.now() > deadline)
          throw new Error(`${o.queueName}: ${left} messages left after ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async stop() {
      stopping = true;
      abort.abort();
      await Promise.all(pollers);
    },
  };
}
