/** The queue of import chunks: a chunk per message, sent ten to a SendMessageBatch call. */
import { GetQueueUrlCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { ChunkSpec } from "./plan.ts";

export class ChunkQueue {
  private url: Promise<string> | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueName: string,
  ) {}

  /** Looked up once per container: the configuration carries the name, not the URL. */
  private queueUrl(): Promise<string> {
    this.url ??= this.sqs.send(new GetQueueUrlCommand({ QueueName: this.queueName })).then(
      (out) => out.QueueUrl!,
      (err: unknown) => {
        this.url = undefined;
        throw err;
      },
    );
    return this.url;
  }

  /** Every chunk, or throws naming the first one SQS refused. */
  async send(chunks: readonly ChunkSpec[]): Promise<void> {
    const QueueUrl = await this.queueUrl();
    for (let i = 0; i < chunks.length; i += 10) {
      const entries = chunks
        .slice(i, i + 10)
        .map((c) => ({ Id: String(c.index), MessageBody: JSON.stringify(c) }));
      const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries }));
      const failed = out.Failed?.[0];
      if (failed) throw new Error(`SQS refused chunk ${failed.Id}: ${failed.Code} ${failed.Message ?? ""}`);
    }
  }
}

/** A chunk message's body, checked: a message that is not one is dropped with a log line, not retried forever. */
export function parseChunk(body: string): ChunkSpec | undefined {
  try {
    const c = JSON.parse(body) as Partial<ChunkSpec>;
    const ok =
      typeof c.job === "string" &&
      typeof c.index === "number" &&
      typeof c.stream === "string" &&
      typeof c.bucket === "string" &&
      typeof c.key === "string" &&
      typeof c.etag === "string" &&
      typeof c.format === "string";
    return ok ? (c as ChunkSpec) : undefined;
  } catch {
    return undefined;
  }
}
