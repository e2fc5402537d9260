/**
 * Data files written but not yet in the table, one item per committed batch in the checkpoints
 * table (pk `iceberg:{sink}`, sk `{pipeline}/{shard}/{last sequence number}`). The batcher puts
 * the item in the same transaction that moves its shard's checkpoint, so only files whose
 * checkpoint commit succeeded are ever offered to the table: a batch retried after a crash may
 * rewrite a key with other contents, but never after its checkpoint moved.
 */
import { DeleteCommand, type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { FileStats } from "./file-stats.ts";

export type PartitionValue = number | string | boolean | null;

export interface PendingFile {
  readonly key: string;
  readonly size: number;
  readonly records: number;
  /** Partition values by partition field name. */
  readonly partition: Readonly<Record<string, PartitionValue>>;
  readonly stats: FileStats;
}

export interface PendingBatch {
  readonly pipeline: string;
  readonly shard: string;
  /** The batch's last sequence number: the shard's progress once it is in the table. */
  readonly lastSeq: string;
  readonly files: readonly PendingFile[];
  readonly createdAt: string;
}

export const pendingPartition = (sink: string) => `iceberg:${sink}`;
// Sequence numbers are decimal strings of varying length: padded, the sort key orders by them.
const sortKey = (pipeline: string, shard: string, lastSeq: string) =>
  `${pipeline}/${shard}/${lastSeq.padStart(80, "0")}`;

/** The checkpoints-table item of a batch's files, for the checkpoint commit's transaction. */
export function pendingItem(sink: string, batch: PendingBatch): Record<string, unknown> {
  return {
    pipeline: pendingPartition(sink),
    shard: sortKey(batch.pipeline, batch.shard, batch.lastSeq),
    source: batch.pipeline,
    sourceShard: batch.shard,
    lastSeq: batch.lastSeq,
    files: JSON.stringify(batch.files),
    createdAt: batch.createdAt,
  };
}

export class PendingFiles {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async list(sink: string): Promise<PendingBatch[]> {
    const out: PendingBatch[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.dynamo.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pipeline = :p",
          ExpressionAttributeValues: { ":p": pendingPartition(sink) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        out.push({
          pipeline: String(item.source),
          shard: String(item.sourceShard),
          lastSeq: String(item.lastSeq),
          files: JSON.parse(String(item.files)) as PendingFile[],
          createdAt: String(item.createdAt),
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async remove(sink: string, batches: readonly PendingBatch[]): Promise<void> {
    for (const b of batches) {
      await this.dynamo.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pipeline: pendingPartition(sink), shard: sortKey(b.pipeline, b.shard, b.lastSeq) },
        }),
      );
    }
  }
}
