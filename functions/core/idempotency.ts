/**
 * Not @aws-lambda-powertools/idempotency: that keys one handler call (or one function's
 * arguments) and returns its stored result; Sluice claims per record within a batch request,
 * 100 to a transaction, with a takeover protocol that re-marks a record a crashed holder may
 * have put, and answers a duplicate with the record id its first write got.
 *
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
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { backoffDelay, DEFAULT_BACKOFF, isTransient, sleep, withRetries } from "./backoff.ts";

export interface ClaimRequest {
  readonly key: string;
  /** The record id this request would give the record. */
  readonly recordId: string;
  /** The Kinesis partition key this request would give the record. */
  readonly partitionKey?: string;
}

/**
 * A claim taken over from a holder that died before completing it (after its lock expired): the
 * holder may have put the record on Kinesis, so the record goes again under the same id and
 * partition key, marked with the window in which the earlier copy would have arrived, for the
 * batcher to drop if it finds that copy.
 */
export interface Takeover {
  readonly recordId: string;
  readonly partitionKey?: string;
  /** Epoch ms: the first claim of the key to the expiry of the lock taken over. */
  readonly window: readonly [number, number];
}

export type ClaimOutcome =
  | { readonly kind: "claimed"; readonly takeover?: Takeover }
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
  /** Epoch ms of the key's first claim, kept across takeovers. */
  claimedAtMs?: number;
  partitionKey?: string;
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

interface ChunkContext {
  readonly pks: readonly string[];
  readonly requests: readonly ClaimRequest[];
  readonly found: (Item | undefined)[];
  readonly outcomes: ClaimOutcome[];
  readonly ttlSeconds: number;
  readonly now: number;
  readonly nowMs: number;
}

/** When a claim's key was first claimed; items written before that was kept: its lock's start. */
function firstClaimMs(item: Item, lockSeconds: number): number {
  return item.claimedAtMs ?? ((item.lockExpiresAt ?? 0) - lockSeconds) * 1000;
}

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
    const starts: number[] = [];
    for (let i = 0; i < keys.length; i += 100) starts.push(i);
    // The chunks at once: a 500-key request waits for one round trip instead of five.
    await Promise.all(starts.map((i) => this.lookupChunk(keys.slice(i, i + 100), found)));
    return found;
  }

  private async lookupChunk(keys: readonly string[], found: Map<string, Item>): Promise<void> {
    let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined = {
      [this.table]: { Keys: keys.map((pk) => ({ pk })), ConsistentRead: true },
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

  /** The record id a completed claim of `key` on `stream` kept, for reading the record back. */
  async recordIdOf(stream: string, key: string): Promise<string | undefined> {
    const found = (await this.lookup([this.pk(stream, key)])).get(this.pk(stream, key));
    const outcome = this.outcomeOf(found, Math.floor(this.clock() / 1000));
    return outcome?.kind === "duplicate" ? outcome.recordId : undefined;
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
    // What each open key holds now: nothing (or expired), or an abandoned claim to take over.
    const found: (Item | undefined)[] = new Array(requests.length);
    const open: number[] = [];
    for (let i = 0; i < pks.length; i++) {
      const item = existing.get(pks[i]!);
      const known = this.outcomeOf(item, now);
      if (known) outcomes[i] = known;
      else {
        found[i] = item && item.expiresAt > now ? item : undefined;
        open.push(i);
      }
    }
    const chunks: number[][] = [];
    for (let i = 0; i < open.length; i += TRANSACTION_ITEMS)
      chunks.push(open.slice(i, i + TRANSACTION_ITEMS));
    await Promise.all(
      chunks.map((chunk) =>
        this.claimChunk({ pks, requests, found, outcomes, ttlSeconds, now, nowMs: this.clock() }, chunk),
      ),
    );
    return outcomes;
  }

  /** The Put that claims key `i`: fresh, or a takeover conditional on the abandoned claim seen. */
  private claimPut(c: ChunkContext, i: number) {
    const request = c.requests[i]!;
    const old = c.found[i];
    const base = {
      pk: c.pks[i]!,
      status: "IN_PROGRESS" as const,
      expiresAt: c.now + c.ttlSeconds,
      lockExpiresAt: c.now + this.lockSeconds,
    };
    if (!old) {
      return {
        TableName: this.table,
        Item: {
          ...base,
          recordId: request.recordId,
          claimedAtMs: c.nowMs,
          ...(request.partitionKey === undefined ? {} : { partitionKey: request.partitionKey }),
        } satisfies Item,
        ConditionExpression: "attribute_not_exists(pk) OR expiresAt <= :now",
        ExpressionAttributeValues: { ":now": c.now },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
      };
    }
    const partitionKey = old.partitionKey ?? request.partitionKey;
    return {
      TableName: this.table,
      Item: {
        ...base,
        recordId: old.recordId,
        claimedAtMs: firstClaimMs(old, this.lockSeconds),
        ...(partitionKey === undefined ? {} : { partitionKey }),
      } satisfies Item,
      // Exactly the abandoned claim that was read: another taker got there first otherwise.
      ConditionExpression: "#s = :inProgress AND recordId = :oldId AND lockExpiresAt = :oldLock",
      ExpressionAttributeNames: { "#s": "status" },
      ExpressionAttributeValues: {
        ":inProgress": "IN_PROGRESS",
        ":oldId": old.recordId,
        ":oldLock": old.lockExpiresAt ?? 0,
      },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
    };
  }

  private claimedOutcome(c: ChunkContext, i: number): ClaimOutcome {
    const old = c.found[i];
    if (!old) return CLAIMED;
    const partitionKey = old.partitionKey ?? c.requests[i]!.partitionKey;
    return {
      kind: "claimed",
      takeover: {
        recordId: old.recordId,
        ...(partitionKey === undefined ? {} : { partitionKey }),
        window: [firstClaimMs(old, this.lockSeconds), (old.lockExpiresAt ?? c.now) * 1000],
      },
    };
  }

  private async claimChunk(c: ChunkContext, chunk: readonly number[]): Promise<void> {
    let pending = chunk;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(DEFAULT_BACKOFF, attempt));
      const lastAttempt = attempt + 1 >= DEFAULT_BACKOFF.attempts;
      this.calls.transactWrite++;
      try {
        await this.dynamo.send(
          new TransactWriteCommand({ TransactItems: pending.map((i) => ({ Put: this.claimPut(c, i) })) }),
        );
        for (const i of pending) c.outcomes[i] = this.claimedOutcome(c, i);
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
            const item = itemOf(reason.Item);
            const known = this.outcomeOf(item, c.now);
            if (known) c.outcomes[i] = known;
            else {
              // It changed under us into something claimable (expired, or abandoned): go again.
              c.found[i] = item && item.expiresAt > c.now ? item : undefined;
              again.push(i);
            }
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
          for (const i of pending) c.outcomes[i] = { kind: "in-progress", retryAfterSeconds: 1 };
          return;
        }
      }
    }
  }

  /** Marks claims completed with the original result, so retries answer `duplicate`. */
  async complete(stream: string, results: readonly CompletedResult[], ttlSeconds: number): Promise<void> {
    const now = Math.floor(this.clock() / 1000);
    const starts: number[] = [];
    for (let i = 0; i < results.length; i += 25) starts.push(i);
    // 25 items is BatchWriteItem's limit: the 20 calls of a 500-record request go together, not in turn.
    await Promise.all(
      starts.map((i) => this.completeChunk(stream, results.slice(i, i + 25), ttlSeconds, now)),
    );
  }

  private async completeChunk(
    stream: string,
    results: readonly CompletedResult[],
    ttlSeconds: number,
    now: number,
  ): Promise<void> {
    let request: Record<string, { PutRequest: { Item: Item } }[]> | undefined = {
      [this.table]: results.map((r) => ({
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

  /**
   * Gives up claims this request holds. A claim whose record never reached Kinesis is deleted, so
   * a retry starts afresh. One whose record may have (Kinesis did not answer, or the claim was a
   * takeover) is kept with its lock ended, so the retry takes it over with the same record id
   * and the batcher can drop a copy.
   */
  async release(
    stream: string,
    claims: readonly (ClaimRequest & { readonly mayBeWritten?: boolean })[],
  ): Promise<void> {
    const now = Math.floor(this.clock() / 1000);
    await Promise.all(
      claims.map(async (c) => {
        this.calls.delete++;
        const condition = {
          Key: { pk: this.pk(stream, c.key) },
          ConditionExpression: "recordId = :id AND #s = :inProgress",
          ExpressionAttributeNames: { "#s": "status" },
        };
        try {
          await withRetries(DEFAULT_BACKOFF, isTransient, () =>
            this.dynamo.send(
              c.mayBeWritten
                ? new UpdateCommand({
                    TableName: this.table,
                    ...condition,
                    UpdateExpression: "SET lockExpiresAt = :now",
                    ExpressionAttributeValues: {
                      ":id": c.recordId,
                      ":inProgress": "IN_PROGRESS",
                      ":now": now,
                    },
                  })
                : new DeleteCommand({
                    TableName: this.table,
                    ...condition,
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
