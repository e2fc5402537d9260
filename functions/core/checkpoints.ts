/**
 * Per-shard progress of a pipeline in the checkpoints table (pk `pipeline`, sk `shard`).
 * A batch first records the keys it is about to write (`pending`), then writes them, then
 * commits the new sequence number; every step is conditional on the sequence number it started
 * from, so a retried or bisected batch can find and replace what a failed attempt left behind.
 * Each invocation that starts on a position counts an attempt, so the batcher knows when the
 * event source is about to give up on a batch and can file its records under errors/ instead.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";

export interface Checkpoint {
  /** Last committed sequence number; undefined before the first commit. */
  readonly sequenceNumber?: string;
  /** Keys an uncommitted attempt may have written. */
  readonly pending: readonly string[];
  /** Highest event time committed on this shard (ISO-8601). */
  readonly watermark?: string;
  readonly files: number;
  readonly records: number;
  readonly errors: number;
  readonly dropped: number;
  /** Possible repeats found to be copies of records already on the shard, and dropped. */
  readonly repeats: number;
  /** Invocations that started on the current position without committing it. */
  readonly attempts: number;
  /** Why the last of those failed, if it got to say (a crash says nothing). */
  readonly lastError?: string;
}

export interface CommitCounts {
  readonly files: number;
  readonly records: number;
  readonly errors: number;
  readonly dropped: number;
  readonly repeats: number;
}

export class CheckpointConflict extends Error {
  override readonly name = "CheckpointConflict";
}

export function compareSequence(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const NONE = "-";

function checkpointOf(item: Record<string, unknown>): Checkpoint {
  return {
    ...(typeof item.seq === "string" && item.seq !== NONE ? { sequenceNumber: item.seq } : {}),
    ...(typeof item.watermark === "string" ? { watermark: item.watermark } : {}),
    ...(typeof item.lastError === "string" ? { lastError: item.lastError } : {}),
    pending: (item.pending as string[] | undefined) ?? [],
    files: Number(item.files ?? 0),
    records: Number(item.records ?? 0),
    errors: Number(item.errors ?? 0),
    dropped: Number(item.dropped ?? 0),
    repeats: Number(item.repeats ?? 0),
    attempts: Number(item.attempts ?? 0),
  };
}

export class CheckpointStore {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(pipeline: string, shard: string): Promise<Checkpoint> {
    const out = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: { pipeline, shard }, ConsistentRead: true }),
    );
    return checkpointOf(out.Item ?? {});
  }

  /** Every shard's committed sequence number for `pipeline` (shards without a commit left out). */
  async committed(pipeline: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.dynamo.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pipeline = :p",
          ExpressionAttributeValues: { ":p": pipeline },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        if (typeof item.shard === "string" && typeof item.seq === "string" && item.seq !== NONE)
          out[item.shard] = item.seq;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Counts one more attempt at the position `expected`; returns the checkpoint with the count. */
  async attempt(pipeline: string, shard: string, expected: string | undefined): Promise<Checkpoint> {
    const c = this.condition(expected);
    try {
      const out = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pipeline, shard },
          UpdateExpression: "SET seq = if_not_exists(seq, :none) ADD attempts :one",
          ConditionExpression: c.ConditionExpression,
          ExpressionAttributeValues: { ...c.values, ":none": NONE, ":one": 1 },
          ReturnValues: "ALL_NEW",
        }),
      );
      return checkpointOf(out.Attributes ?? {});
    } catch (err) {
      if ((err as { name?: string }).name === "ConditionalCheckFailedException") {
        throw new CheckpointConflict(`checkpoint of ${pipeline}/${shard} moved`);
      }
      throw err;
    }
  }

  /** Notes why an attempt failed (no payloads: names and messages of errors only). */
  async noteFailure(
    pipeline: string,
    shard: string,
    expected: string | undefined,
    reason: string,
  ): Promise<void> {
    const c = this.condition(expected);
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pipeline, shard },
        UpdateExpression: "SET lastError = :reason",
        ConditionExpression: c.ConditionExpression,
        ExpressionAttributeValues: { ...c.values, ":reason": reason.slice(0, 500) },
      }),
    );
  }

  private condition(expected: string | undefined) {
    return {
      ConditionExpression: "attribute_not_exists(seq) OR seq = :expected",
      values: { ":expected": expected ?? NONE },
    };
  }

  /** Records the keys about to be written, if the checkpoint is still at `expected`. */
  async begin(
    pipeline: string,
    shard: string,
    expected: string | undefined,
    pending: readonly string[],
  ): Promise<void> {
    const c = this.condition(expected);
    try {
      await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pipeline, shard },
          UpdateExpression: "SET pending = :pending, seq = if_not_exists(seq, :none), updatedAt = :now",
          ConditionExpression: c.ConditionExpression,
          ExpressionAttributeValues: {
            ...c.values,
            ":pending": [...pending],
            ":none": NONE,
            ":now": new Date().toISOString(),
          },
        }),
      );
    } catch (err) {
      if ((err as { name?: string }).name === "ConditionalCheckFailedException") {
        throw new CheckpointConflict(`checkpoint of ${pipeline}/${shard} moved`);
      }
      throw err;
    }
  }

  /**
   * Moves the checkpoint from `expected` to `next`, clears pending and adds the counts.
   * `watermark` is the new high-water mark (the caller takes the max with the one it read).
   */
  async commit(
    pipeline: string,
    shard: string,
    expected: string | undefined,
    next: string,
    watermark: string | undefined,
    counts: CommitCounts,
    /** Put in the same transaction (an Iceberg sink's pending files), so both happen or neither. */
    alsoPut?: Record<string, unknown>,
  ): Promise<void> {
    const c = this.condition(expected);
    const setWatermark = watermark === undefined ? "" : ", watermark = :wm";
    try {
      const update = {
        TableName: this.table,
        Key: { pipeline, shard },
        UpdateExpression: `SET seq = :next, pending = :empty, updatedAt = :now${setWatermark} REMOVE attempts, lastError ADD files :files, records :records, errors :errors, dropped :dropped, repeats :repeats`,
        ConditionExpression: c.ConditionExpression,
        ExpressionAttributeValues: {
          ...c.values,
          ":next": next,
          ":empty": [],
          ":now": new Date().toISOString(),
          ...(watermark === undefined ? {} : { ":wm": watermark }),
          ":files": counts.files,
          ":records": counts.records,
          ":errors": counts.errors,
          ":dropped": counts.dropped,
          ":repeats": counts.repeats,
        },
      };
      if (alsoPut === undefined) await this.dynamo.send(new UpdateCommand(update));
      else
        await this.dynamo.send(
          new TransactWriteCommand({
            TransactItems: [{ Update: update }, { Put: { TableName: this.table, Item: alsoPut } }],
          }),
        );
    } catch (err) {
      const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
      if (reasons?.[0]?.Code === "ConditionalCheckFailed") {
        throw new CheckpointConflict(`checkpoint of ${pipeline}/${shard} moved`);
      }
      if ((err as { name?: string }).name === "ConditionalCheckFailedException") {
        throw new CheckpointConflict(`checkpoint of ${pipeline}/${shard} moved`);
      }
      throw err;
    }
  }
}
