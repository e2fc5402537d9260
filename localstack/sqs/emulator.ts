/**
 * TEST INFRASTRUCTURE ONLY: an SQS emulator for the embedded stack (which has no SQS; real
 * LocalStack has one), with only what Sluice calls: CreateQueue, GetQueueUrl, SendMessage(Batch),
 * ReceiveMessage (visibility timeout, long polling), DeleteMessage(Batch), ChangeMessageVisibility,
 * GetQueueAttributes, and the redrive policy's move to a dead-letter queue after
 * `maxReceiveCount` receives. Standard queues only, delivered in send order; no IAM, no KMS, no
 * FIFO. With a state file, queues and messages survive a restart of `sluice dev`.
 */
import { createHash, randomUUID } from "node:crypto";
import { AwsJsonError, type JsonObject } from "../aws-json-server.ts";
import { readStateFile, writeStateFile } from "../state-file.ts";

export const SQS_OPERATIONS = [
  "CreateQueue",
  "GetQueueUrl",
  "SendMessage",
  "SendMessageBatch",
  "ReceiveMessage",
  "DeleteMessage",
  "DeleteMessageBatch",
  "ChangeMessageVisibility",
  "GetQueueAttributes",
] as const;
export type SqsOperation = (typeof SQS_OPERATIONS)[number];

export function isSqsOperation(name: string): name is SqsOperation {
  return (SQS_OPERATIONS as readonly string[]).includes(name);
}

const ACCOUNT = "000000000000";
const MAX_BODY_BYTES = 256 * 1024;

interface Message {
  readonly id: string;
  readonly body: string;
  readonly md5: string;
  readonly sentAt: number;
  receiveCount: number;
  visibleAt: number;
  firstReceivedAt?: number;
  receipt?: string;
}

interface Queue {
  readonly name: string;
  readonly arn: string;
  readonly attributes: Record<string, string>;
  messages: Message[];
}

export interface SqsEmulatorOptions {
  /** Keep queues and messages in this JSON file. @default in memory only */
  readonly stateFile?: string;
  readonly clock?: () => number;
}

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

const notFound = () =>
  new AwsJsonError("QueueDoesNotExist", "The specified queue does not exist for this wsdl version.");

function str(input: JsonObject, field: string): string {
  const v = input[field];
  if (typeof v !== "string" || v === "")
    throw new AwsJsonError("InvalidParameterValue", `${field} is required`);
  return v;
}

function int(input: JsonObject, field: string, fallback: number, min: number, max: number): number {
  const v = input[field];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new AwsJsonError("InvalidParameterValue", `${field} must be an integer from ${min} to ${max}`);
  }
  return v;
}

export class SqsEmulator {
  private readonly queues = new Map<string, Queue>();
  private readonly clock: () => number;

  constructor(private readonly options: SqsEmulatorOptions = {}) {
    this.clock = options.clock ?? Date.now;
    const stored = options.stateFile
      ? (readStateFile(options.stateFile) as { queues?: Queue[] } | undefined)
      : undefined;
    for (const q of stored?.queues ?? []) this.queues.set(q.name, q);
  }

  /** `host` is the endpoint the client called, so queue URLs lead back to it. */
  async handle(operation: SqsOperation, input: JsonObject, host: string): Promise<JsonObject> {
    switch (operation) {
      case "CreateQueue":
        return this.createQueue(input, host);
      case "GetQueueUrl": {
        const name = str(input, "QueueName");
        if (!this.queues.has(name)) throw notFound();
        return { QueueUrl: this.url(host, name) };
      }
      case "SendMessage": {
        const queue = this.queue(input);
        const m = this.enqueue(queue, str(input, "MessageBody"), int(input, "DelaySeconds", 0, 0, 900));
        this.save();
        return { MessageId: m.id, MD5OfMessageBody: m.md5 };
      }
      case "SendMessageBatch":
        return this.sendBatch(input);
      case "ReceiveMessage":
        return this.receive(input);
      case "DeleteMessage": {
        const queue = this.queue(input);
        this.remove(queue, str(input, "ReceiptHandle"));
        this.save();
        return {};
      }
      case "DeleteMessageBatch": {
        const queue = this.queue(input);
        const entries = (input.Entries as { Id: string; ReceiptHandle: string }[] | undefined) ?? [];
        for (const e of entries) this.remove(queue, e.ReceiptHandle);
        this.save();
        return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
      }
      case "ChangeMessageVisibility": {
        const queue = this.queue(input);
        const receipt = str(input, "ReceiptHandle");
        const m = queue.messages.find((x) => x.receipt === receipt);
        if (!m) throw new AwsJsonError("ReceiptHandleIsInvalid", "The receipt handle is not valid");
        m.visibleAt = this.clock() + int(input, "VisibilityTimeout", 0, 0, 43_200) * 1000;
        this.save();
        return {};
      }
      case "GetQueueAttributes":
        return { Attributes: this.attributes(this.queue(input)) };
    }
  }

  private url(host: string, name: string): string {
    return `http://${host}/${ACCOUNT}/${name}`;
  }

  private queue(input: JsonObject): Queue {
    const url = str(input, "QueueUrl");
    const queue = this.queues.get(url.slice(url.lastIndexOf("/") + 1));
    if (!queue) throw notFound();
    return queue;
  }

  private createQueue(input: JsonObject, host: string): JsonObject {
    const name = str(input, "QueueName");
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw new AwsJsonError("InvalidParameterValue", "queue names are 1-80 letters, digits, - or _");
    }
    const attributes = { VisibilityTimeout: "30", ...((input.Attributes as Record<string, string>) ?? {}) };
    const existing = this.queues.get(name);
    if (existing) {
      const differs = Object.entries(attributes).some(([k, v]) => existing.attributes[k] !== v);
      if (differs) throw new AwsJsonError("QueueNameExists", `queue ${name} exists with other attributes`);
    } else {
      this.queues.set(name, {
        name,
        arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`,
        attributes,
        messages: [],
      });
      this.save();
    }
    return { QueueUrl: this.url(host, name) };
  }

  private enqueue(queue: Queue, body: string, delaySeconds: number): Message {
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) {
      throw new AwsJsonError("InvalidParameterValue", `a message body is at most ${MAX_BODY_BYTES} bytes`);
    }
    const now = this.clock();
    const m: Message = {
      id: randomUUID(),
      body,
      md5: md5(body),
      sentAt: now,
      receiveCount: 0,
      visibleAt: now + delaySeconds * 1000,
    };
    queue.messages.push(m);
    return m;
  }

  private sendBatch(input: JsonObject): JsonObject {
    const queue = this.queue(input);
    const entries =
      (input.Entries as { Id: string; MessageBody: string; DelaySeconds?: number }[] | undefined) ?? [];
    if (entries.length === 0 || entries.length > 10) {
      throw new AwsJsonError(
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "a batch holds 1 to 10 entries",
      );
    }
    const Successful = entries.map((e) => {
      const m = this.enqueue(queue, e.MessageBody, e.DelaySeconds ?? 0);
      return { Id: e.Id, MessageId: m.id, MD5OfMessageBody: m.md5 };
    });
    this.save();
    return { Successful, Failed: [] };
  }

  private async receive(input: JsonObject): Promise<JsonObject> {
    const queue = this.queue(input);
    const max = int(input, "MaxNumberOfMessages", 1, 1, 10);
    const waitMs = int(input, "WaitTimeSeconds", 0, 0, 20) * 1000;
    const visibility = int(
      input,
      "VisibilityTimeout",
      Number(queue.attributes.VisibilityTimeout ?? 30),
      0,
      43_200,
    );
    const deadline = this.clock() + waitMs;
    for (;;) {
      const taken = this.take(queue, max, visibility);
      if (taken.length > 0 || this.clock() >= deadline) {
        return {
          Messages: taken.map((m) => ({
            MessageId: m.id,
            ReceiptHandle: m.receipt,
            MD5OfBody: m.md5,
            Body: m.body,
            Attributes: {
              ApproximateReceiveCount: String(m.receiveCount),
              SentTimestamp: String(m.sentAt),
              ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt ?? m.sentAt),
            },
          })),
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Up to `max` visible messages, moving those out of receives to the dead-letter queue. */
  private take(queue: Queue, max: number, visibilitySeconds: number): Message[] {
    const now = this.clock();
    const redrive = queue.attributes.RedrivePolicy
      ? (JSON.parse(queue.attributes.RedrivePolicy) as {
          deadLetterTargetArn: string;
          maxReceiveCount: number | string;
        })
      : undefined;
    const dlq = redrive && [...this.queues.values()].find((q) => q.arn === redrive.deadLetterTargetArn);
    const taken: Message[] = [];
    let changed = false;
    for (const m of [...queue.messages]) {
      if (taken.length >= max) break;
      if (m.visibleAt > now) continue;
      changed = true;
      if (redrive && dlq && m.receiveCount >= Number(redrive.maxReceiveCount)) {
        queue.messages = queue.messages.filter((x) => x !== m);
        dlq.messages.push({ ...m, receiveCount: 0, visibleAt: now });
        continue;
      }
      m.receiveCount++;
      m.firstReceivedAt ??= now;
      m.receipt = `${m.id}:${randomUUID()}`;
      m.visibleAt = now + visibilitySeconds * 1000;
      taken.push(m);
    }
    if (changed) this.save();
    return taken;
  }

  private remove(queue: Queue, receipt: string): void {
    queue.messages = queue.messages.filter((m) => m.receipt !== receipt);
  }

  private attributes(queue: Queue): Record<string, string> {
    const now = this.clock();
    const visible = queue.messages.filter((m) => m.visibleAt <= now).length;
    return {
      ...queue.attributes,
      QueueArn: queue.arn,
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: String(queue.messages.length - visible),
    };
  }

  private save(): void {
    if (this.options.stateFile)
      writeStateFile(this.options.stateFile, { version: 1, queues: [...this.queues.values()] });
  }
}
