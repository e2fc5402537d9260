/**
 * Streams' run-time lifecycle, `active -> paused -> active`, `active|paused -> deleting ->
 * deleted`, kept in the control table as one item per stream (`pk = stream#{name}`). The
 * manifest is the declared baseline: a declared stream without an item is active. Ingest reads
 * the state through `StreamStates.current`, cached briefly, so a pause is seen by every running
 * function within the cache time without a table read per request. Pausing stops intake only:
 * what was accepted is on Kinesis and the batchers keep draining it.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { SluiceError } from "../errors.ts";

export const STREAM_STATES = ["creating", "active", "paused", "deleting", "deleted"] as const;
export type StreamState = (typeof STREAM_STATES)[number];

export type StreamChange = "pause" | "resume" | "delete";

/** The states each change may start from, and where it leads. */
const CHANGES: Readonly<Record<StreamChange, { from: readonly StreamState[]; to: StreamState }>> = {
  pause: { from: ["active"], to: "paused" },
  resume: { from: ["paused"], to: "active" },
  delete: { from: ["active", "paused"], to: "deleting" },
};

export interface StreamStatus {
  readonly name: string;
  readonly state: StreamState;
  /** When the state last changed; absent for a declared stream never changed at run time. */
  readonly updatedAt?: string;
}

const pk = (name: string) => `stream#${name}`;

/** Why a change is refused in a stream's state: 409 naming the state. */
export function invalidChange(name: string, change: StreamChange, state: StreamState): SluiceError {
  return new SluiceError(
    "INVALID_STREAM_STATE",
    `stream ${name} is ${state}: ${change} needs it ${CHANGES[change].from.join(" or ")}`,
    409,
    "/stream",
  );
}

export interface StreamStatesOptions {
  /** How long a stream's state is cached for `current`. @default 2000 */
  readonly ttlMs?: number;
  readonly clock?: () => number;
}

export class StreamStates {
  private readonly cache = new Map<string, { state: StreamState; at: number }>();
  private readonly ttlMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    options: StreamStatesOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 2_000;
    this.clock = options.clock ?? Date.now;
  }

  /** The state as stored now (a declared stream with no item is active). */
  async read(name: string): Promise<StreamStatus> {
    const out = await this.dynamo.send(new GetCommand({ TableName: this.table, Key: { pk: pk(name) } }));
    const item = out.Item as { state?: StreamState; updatedAt?: string } | undefined;
    return item?.state
      ? { name, state: item.state, ...(item.updatedAt ? { updatedAt: item.updatedAt } : {}) }
      : { name, state: "active" };
  }

  /** The state for ingest: cached up to `ttlMs`. */
  async current(name: string): Promise<StreamState> {
    const now = this.clock();
    const hit = this.cache.get(name);
    if (hit && now - hit.at < this.ttlMs) return hit.state;
    const { state } = await this.read(name);
    this.cache.set(name, { state, at: now });
    return state;
  }

  /** Every stream with an item, by name. */
  async stored(): Promise<Map<string, StreamStatus>> {
    const found = new Map<string, StreamStatus>();
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.dynamo.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: "begins_with(pk, :p)",
          ExpressionAttributeValues: { ":p": "stream#" },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of out.Items ?? []) {
        const name = String(item.pk).slice("stream#".length);
        found.set(name, { name, state: item.state as StreamState, updatedAt: item.updatedAt as string });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return found;
  }

  /**
   * Applies a change with a conditional write, so two admins racing cannot skip a state; a
   * delete goes through `deleting` to `deleted` (the lake's files stay, under its retention).
   */
  async change(name: string, change: StreamChange): Promise<StreamStatus> {
    const { from, to } = CHANGES[change];
    await this.transition(name, change, from, to);
    const final = change === "delete" ? await this.transition(name, change, ["deleting"], "deleted") : to;
    this.cache.delete(name);
    return this.read(name).then((s) => ({ ...s, state: final }));
  }

  private async transition(
    name: string,
    change: StreamChange,
    from: readonly StreamState[],
    to: StreamState,
  ): Promise<StreamState> {
    const values: Record<string, string> = {};
    from.forEach((s, i) => {
      values[`:f${i}`] = s;
    });
    const fromActive = from.includes("active");
    const condition = [
      ...(fromActive ? ["attribute_not_exists(pk)"] : []),
      `#s IN (${from.map((_, i) => `:f${i}`).join(", ")})`,
    ].join(" OR ");
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: pk(name), state: to, updatedAt: new Date(this.clock()).toISOString() },
          ConditionExpression: condition,
          ExpressionAttributeNames: { "#s": "state" },
          ExpressionAttributeValues: values,
        }),
      );
      return to;
    } catch (err) {
      if (
        !(err instanceof ConditionalCheckFailedException) &&
        (err as Error).name !== "ConditionalCheckFailedException"
      )
        throw err;
      const now = await this.read(name);
      throw invalidChange(name, change, now.state);
    }
  }
}

/** Ingest's refusal for a stream that is not taking records, or nothing when it is active. */
export function intakeRefusal(name: string, state: StreamState): SluiceError | undefined {
  switch (state) {
    case "active":
      return undefined;
    case "paused":
      return new SluiceError(
        "STREAM_PAUSED",
        `stream ${name} is paused: records are refused until it is resumed`,
        409,
        "/stream",
      );
    case "creating":
      return new SluiceError("INVALID_STREAM_STATE", `stream ${name} is still being created`, 409, "/stream");
    default:
      return new SluiceError("UNKNOWN_STREAM", `stream ${name} was deleted`, 404, "/stream");
  }
}
