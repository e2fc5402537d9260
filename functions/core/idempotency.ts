/**
 * Idempotency claims in DynamoDB, pk `{stream}#{key}`. A record with a key is first looked up
 * (batched), then claimed with a conditional write (IN_PROGRESS), put on Kinesis, and completed
 * with the original result; a claim whose put failed is released so the producer's retry works.
 * Expired items count as absent even before DynamoDB's TTL sweeps them.
 *
 * Claims are conditional Puts grouped 100 to a TransactWriteItems call, so a 500-key request costs
 * 5 + 5 + 20 calls instead of 5 + 500 + 20. The price is 2 write units per claimed key instead of
 * 1; the gain is latency (5 round trips instead of 500 contending for sockets) and CPU (each SDK
 * command costs microseconds to build and send). A transaction is all or nothing, so when some
 * conditions fail, DynamoDB says which (CancellationReasons, with the existing item), those keys
 * get their outcome, and the rest go again.
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { backoffDelay, DEFAULT_BACKOFF, isTransient, sleep, withRetries } from "./backoff.ts";

export interface ClaimRequest {
  readonly key: string;
  /** The record id this request would give the record. */
  readonly recordId: string;
}

export type ClaimOutcome =
  | { readonly kind: "claimed" }
  | { readonly kind: "duplicate"; readonly recordId: string }
  | { readonly kind: "in-progress"; readonly retryAfterSeconds: number };

export interface CompletedResult {
  readonly key: string;
  readonly recordId: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
}

interface Item {
  pk: string;
  status: "IN_PROGRESS" | "COMPLETED";
  recordId: string;
  expiresAt: number;
  lockExpiresAt?: number;
  shardId?: string;
  sequenceNumber?: string;
}

/** Counts of DynamoDB calls, so the cost of a request can be reported and tested. */
export interface CallCounter {
  batchGet: number;
  transactWrite: number;
  batchWrite: number;
  delete: number;
}

const CLAIMED: ClaimOutcome = Object.freeze({ kind: "claimed" });

/** DynamoDB's limit on actions in one TransactWriteItems call. */
const TRANSACTION_ITEMS = 100;

interface CancellationReason {
  Code?: string;
  Item?: Record<string, unknown>;
}

/**
 * The item in a cancellation reason. The document client does not unmarshall errors, so its
 * attributes arrive as DynamoDB attribute values ({ S }, { N }); only those two types are stored.
 */
function itemOf(raw: Record<string, unknown> | undefined): Item | undefined {
  if (!raw) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    const v = value as { S?: string; N?: string } | string | number;
    out[name] =
      typeof v === "object" && v !== null ? (v.S ?? (v.N === undefined ? undefined : Number(v.N))) : v;
  }
  return out as unknown as Item;
}

export class IdempotencyStore {
  readonly calls: CallCounter = { batchGet: 0, transactWrite: 0, batchWrite: 0, delete: 0 };

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    /** How long an IN_PROGRESS claim blocks others before it is considered abandoned. */
    private readonly lockSeconds = 60,
    private readonly clock: () => number = Date.now,
  ) {}

  private pk(stream: string, key: string): string {
    return `${stream}#${key}`;
  }

  /** Items by partition key (`{stream}#{key}`). */
  private async lookup(keys: readonly string[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let i = 0; i < keys.length; i += 100) {
      let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined =
        {
          [this.table]: {
            Keys: keys.slice(i, i + 100).map((pk) => ({ pk })),
            ConsistentRead: true,
          },
        };
      for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
        this.calls.batchGet++;
        const out = await withRetries(DEFAULT_BACKOFF, isTransient, () =>
          this.dynamo.send(new BatchGetCommand({ RequestItems: request })),
        );
        for (const item of (out.Responses?.[this.table] ?? []) as Item[]) found.set(item.pk, item);
        request = out.UnprocessedKeys as typeof request;
        if (attempt > 8)
          throw Object.assign(new Error("idempotency lookup kept being throttled"), {
            name: "ThrottlingException",
          });
      }
    }
    return found;
  }

  private outcomeOf(item: Item | undefined, nowSeconds: number): ClaimOutcome | undefined {
    if (!item || item.expiresAt <= nowSeconds) return undefined;
    if (item.status === "COMPLETED") return { kind: "duplicate", recordId: item.recordId };
    if ((item.lockExpiresAt ?? 0) <= nowSeconds) return undefined;
    return {
      kind: "in-progress",
      retryAfterSeconds: Math.max(1, (item.lockExpiresAt ?? nowSeconds) - nowSeconds),
    };
  }

  /**
   * Claims each key for its request; keys must be distinct. Returns one outcome per request:
   * `claimed` means this request owns the key and must complete or release it.
   */
  async claim(
    stream: string,
    requests: readonly ClaimRequest[],
    ttlSeconds: number,
  ): Promise<ClaimOutcome[]> {
    const now = Math.floor(this.clock() / 1000);
    const pks = requests.map((r) => this.pk(stream, r.key));
    const existing = await this.lookup(pks);
    const outcomes: ClaimOutcome[] = new Array(requests.length);
    const open: number[] = [];
    for (let i = 0; i < pks.length; i++) {
      const known = this.outcomeOf(existing.get(pks[i]!), now);
      if (known) outcomes[i] = known;
      else open.push(i);
    }
    const chunks: number[][] = [];
    for (let i = 0; i < open.length; i += TRANSACTION_ITEMS)
      chunks.push(open.slice(i, i + TRANSACTION_ITEMS));
    await Promise.all(
      chunks.map((chunk) => this.claimChunk(pks, requests, chunk, ttlSeconds, now, outcomes)),
    );
    return outcomes;
  }

  private async claimChunk(
    pks: readonly string[],
    requests: readonly ClaimRequest[],
    chunk: readonly number[],
    ttlSeconds: number,
    now: number,
    outcomes: ClaimOutcome[],
  ): Promise<void> {
    let pending = chunk;
    // Shared by every Put: the marshaller reads them and never changes them.
    const names = { "#s": "status" };
    const values = { ":now": now, ":inProgress": "IN_PROGRESS" };
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(DEFAULT_BACKOFF, attempt));
      const lastAttempt = attempt + 1 >= DEFAULT_BACKOFF.attempts;
      this.calls.transactWrite++;
      try {
        await this.dynamo.send(
          new TransactWriteCommand({
            TransactItems: pending.map((i) => ({
              Put: {
                TableName: this.table,
                Item: {
                  pk: pks[i]!,
                  status: "IN_PROGRESS",
                  recordId: requests[i]!.recordId,
                  expiresAt: now + ttlSeconds,
                  lockExpiresAt: now + this.lockSeconds,
                } satisfies Item,
                // Absent, expired, or an abandoned claim: all may be taken.
                ConditionExpression:
                  "attribute_not_exists(pk) OR expiresAt <= :now OR (#s = :inProgress AND lockExpiresAt <= :now)",
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
              },
            })),
          }),
        );
        for (const i of pending) outcomes[i] = CLAIMED;
        return;
      } catch (err) {
        const reasons = (err as { CancellationReasons?: CancellationReason[] }).CancellationReasons;
        if ((err as { name?: string }).name !== "TransactionCanceledException" || !reasons) {
          if (!isTransient(err) || lastAttempt) throw err;
          continue;
        }
        const again: number[] = [];
        let throttled = false;
        pending.forEach((i, pos) => {
          const reason = reasons[pos];
          if (reason?.Code === "ConditionalCheckFailed") {
            outcomes[i] = this.outcomeOf(itemOf(reason.Item), now) ?? {
              kind: "in-progress",
              retryAfterSeconds: 1,
            };
          } else if (reason?.Code === "None" || reason?.Code === "TransactionConflict") {
            again.push(i);
          } else if (reason?.Code === "ThrottlingError" || reason?.Code === "ProvisionedThroughputExceeded") {
            throttled = true;
            again.push(i);
          } else {
            throw err;
          }
        });
        pending = again;
        if (pending.length === 0) return;
        if (lastAttempt) {
          if (throttled) throw err;
          // Still contended after every retry: another request is writing these keys right now.
          for (const i of pending) outcomes[i] = { kind: "in-progress", retryAfterSeconds: 1 };
          return;
        }
      }
    }
  }

  /** Marks claims completed with the original result, so retries answer `duplicate`. */
  async complete(stream: string, results: readonly CompletedResult[], ttlSeconds: number): Promise<void> {
    const now = Math.floor(this.clock() / 1000);
    for (let i = 0; i < results.length; i += 25) {
      let request: Record<string, { PutRequest: { Item: Item } }[]> | undefined = {
        [this.table]: results.slice(i, i + 25).map((r) => ({
          PutRequest: {
            Item: {
              pk: this.pk(stream, r.key),
              status: "COMPLETED",
              recordId: r.recordId,
              shardId: r.shardId,
              sequenceNumber: r.sequenceNumber,
              expiresAt: now + ttlSeconds,
            },
          },
        })),
      };
      for (let attempt = 0; request && (request[this.table]?.length ?? 0) > 0; attempt++) {
        this.calls.batchWrite++;
        const out = await withRetries(DEFAULT_BACKOFF, isTransient, () =>
          this.dynamo.send(new BatchWriteCommand({ RequestItems: request })),
        );
        request = out.UnprocessedItems as typeof request;
        if (attempt > 8)
          throw Object.assign(new Error("idempotency completion kept being throttled"), {
            name: "ThrottlingException",
          });
      }
    }
  }

  /** Gives up claims this request holds (its records never reached Kinesis). */
  async release(stream: string, claims: readonly ClaimRequest[]): Promise<void> {
    await Promise.all(
      claims.map(async (c) => {
        this.calls.delete++;
        try {
          await withRetries(DEFAULT_BACKOFF, isTransient, () =>
            this.dynamo.send(
              new DeleteCommand({
                TableName: this.table,
                Key: { pk: this.pk(stream, c.key) },
                ConditionExpression: "recordId = :id AND #s = :inProgress",
                ExpressionAttributeNames: { "#s": "status" },
                ExpressionAttributeValues: { ":id": c.recordId, ":inProgress": "IN_PROGRESS" },
              }),
            ),
          );
        } catch (err) {
          // Someone else took it over after our lock expired: theirs to keep.
          if ((err as { name?: string }).name !== "ConditionalCheckFailedException") throw err;
        }
      }),
    );
  }
}
