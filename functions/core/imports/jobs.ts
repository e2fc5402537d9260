/**
 * Import jobs in the control table, one item per job (`pk = import#{id}`), beside the streams'
 * states. Chunks report with one UpdateItem each that adds their counts and their index to the
 * set of finished chunks, on the condition that the index is not in it yet: a chunk message
 * delivered twice (SQS is at least once) counts once. The job's state is derived from the item,
 * so no writer has to know that it finished last.
 */
import { randomBytes } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { ErrorCode } from "../errors.ts";
import type { InputFormat } from "../input/read-input.ts";

export type ImportState = "queued" | "running" | "succeeded" | "failed";

export interface ImportCounts {
  /** Every line or row read, whatever became of it. */
  readonly recordsRead: number;
  readonly accepted: number;
  readonly duplicate: number;
  readonly rejected: number;
}

export interface JobError {
  readonly code: ErrorCode;
  readonly message: string;
  /** The source object at fault, when one is. */
  readonly object?: string;
}

export interface NewJob {
  readonly stream: string;
  readonly source: string;
  readonly format?: InputFormat;
  readonly objects: number;
  readonly bytes: number;
  readonly chunks: number;
  /** Where the job's rejected lines go: `s3://bucket/errors/imports/{id}/`. */
  readonly rejectedLines: string;
  /** Problems found while planning; with no chunks, they are why the job failed. */
  readonly errors: readonly JobError[];
}

export interface ImportJob {
  readonly id: string;
  readonly stream: string;
  readonly source: string;
  readonly format?: InputFormat;
  readonly state: ImportState;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly progress: { readonly chunks: number; readonly done: number; readonly failed: number };
  readonly counts: ImportCounts & { readonly objects: number; readonly bytes: number };
  readonly rejectedLines: string;
  readonly errors: readonly JobError[];
}

export const JOB_ID = /^imp_[0-9a-f]{16}$/;
/** Errors kept on the item; the rest are counted in `progress.failed`. */
const MAX_ERRORS = 20;

const pk = (id: string) => `import#${id}`;

export const newJobId = (): string => `imp_${randomBytes(8).toString("hex")}`;

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException || (err as Error).name === "ConditionalCheckFailedException";

/** The state an item's numbers say: failed once any chunk failed, else by how far it got. */
export function jobState(item: {
  failedAt?: string;
  chunks: number;
  done?: number;
  failed?: number;
  startedAt?: string;
}): ImportState {
  const done = item.done ?? 0;
  const failed = item.failed ?? 0;
  if (item.failedAt !== undefined) return "failed";
  if (done + failed >= item.chunks) return failed > 0 ? "failed" : "succeeded";
  return item.startedAt !== undefined || done + failed > 0 ? "running" : "queued";
}

export class ImportJobs {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(id: string, job: NewJob): Promise<ImportJob> {
    const now = this.clock().toISOString();
    await this.dynamo.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: pk(id),
          ...job,
          createdAt: now,
          updatedAt: now,
          // Nothing to run is a job that failed at once, with its planning errors as the reason.
          ...(job.chunks === 0 ? { failedAt: now } : {}),
          done: 0,
          failed: 0,
          recordsRead: 0,
          accepted: 0,
          duplicate: 0,
          rejected: 0,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    return (await this.get(id))!;
  }

  async get(id: string): Promise<ImportJob | undefined> {
    const out = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: { pk: pk(id) }, ConsistentRead: true }),
    );
    return out.Item ? view(id, out.Item) : undefined;
  }

  /** Fails the job as a whole (its chunks could not be queued), with the reason. */
  async fail(id: string, error: JobError): Promise<void> {
    const now = this.clock().toISOString();
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: pk(id) },
        UpdateExpression: "SET failedAt = :now, updatedAt = :now, errors = list_append(errors, :e)",
        ExpressionAttributeValues: { ":now": now, ":e": [error] },
      }),
    );
  }

  /** Marks the job running when its first chunk starts. */
  async started(id: string): Promise<void> {
    const now = this.clock().toISOString();
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: pk(id) },
        UpdateExpression: "SET startedAt = if_not_exists(startedAt, :now), updatedAt = :now",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":now": now },
      }),
    );
  }

  /**
   * A chunk's counts, or its failure with the reason; false when this chunk had already
   * reported (a message delivered again), which changes nothing.
   */
  async finishChunk(id: string, index: number, counts: ImportCounts, failure?: JobError): Promise<boolean> {
    const now = this.clock().toISOString();
    try {
      await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pk(id) },
          UpdateExpression: `ADD ${failure ? "failed" : "done"} :one, recordsRead :read, accepted :acc, duplicate :dup, rejected :rej, finished :chunk SET updatedAt = :now`,
          ConditionExpression:
            "attribute_exists(pk) AND (attribute_not_exists(finished) OR NOT contains(finished, :index))",
          ExpressionAttributeValues: {
            ":one": 1,
            ":read": counts.recordsRead,
            ":acc": counts.accepted,
            ":dup": counts.duplicate,
            ":rej": counts.rejected,
            ":chunk": new Set([String(index)]),
            ":index": String(index),
            ":now": now,
          },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
    if (failure) await this.addError(id, failure);
    return true;
  }

  /** Appends to the item's errors while it holds fewer than MAX_ERRORS. */
  private async addError(id: string, error: JobError): Promise<void> {
    try {
      await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pk(id) },
          UpdateExpression: "SET errors = list_append(errors, :e)",
          ConditionExpression: "size(errors) < :max",
          ExpressionAttributeValues: { ":e": [error], ":max": MAX_ERRORS },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}

function view(id: string, item: Record<string, unknown>): ImportJob {
  const n = (k: string) => Number(item[k] ?? 0);
  const format = item.format as InputFormat | undefined;
  return {
    id,
    stream: String(item.stream),
    source: String(item.source),
    ...(format === undefined ? {} : { format }),
    state: jobState({
      chunks: n("chunks"),
      done: n("done"),
      failed: n("failed"),
      ...(item.failedAt === undefined ? {} : { failedAt: String(item.failedAt) }),
      ...(item.startedAt === undefined ? {} : { startedAt: String(item.startedAt) }),
    }),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    progress: { chunks: n("chunks"), done: n("done"), failed: n("failed") },
    counts: {
      objects: n("objects"),
      bytes: n("bytes"),
      recordsRead: n("recordsRead"),
      accepted: n("accepted"),
      duplicate: n("duplicate"),
      rejected: n("rejected"),
    },
    rejectedLines: String(item.rejectedLines),
    errors: (item.errors as JobError[] | undefined) ?? [],
  };
}
