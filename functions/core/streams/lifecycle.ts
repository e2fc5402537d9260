/**
 * Streams' run-time lifecycle, `active -> paused -> active`, `active|paused -> deleting ->
 * deleted`, kept in the control table as one item per stream (`pk = stream#{name}`). The
 * manifest is the declared baseline: a declared stream without an item is active. Ingest reads
 * the state through `StreamStates.current`, cached briefly, so a pause is seen by every running
 * function within the cache time without a table read per request. Pausing stops intake only:
 * what was accepted is on Kinesis and the batchers keep draining it.
 *
 * A stream created at run time (`creating -> active`) has an item from the start, carrying its
 * definition (`runtime`: the schema subject and optional fields); it then changes like a
 * declared one.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
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

/** What defines a stream created at run time, kept on its control item. */
export interface RuntimeStreamDef {
  /** Registry subject of its schema. */
  readonly subject: string;
  readonly eventTimeField?: string;
  readonly partitionKey?: string;
}

export interface StreamStatus {
  readonly name: string;
  readonly state: StreamState;
  /** When the state last changed; absent for a declared stream never changed at run time. */
  readonly updatedAt?: string;
  /** Present for a stream created at run time. */
  readonly runtime?: RuntimeStreamDef;
}

interface ControlItem {
  state?: StreamState;
  updatedAt?: string;
  runtime?: RuntimeStreamDef;
}

function statusOf(name: string, item: ControlItem | undefined): StreamStatus {
  return item?.state
    ? {
        name,
        state: item.state,
        ...(item.updatedAt ? { updatedAt: item.updatedAt } : {}),
        ...(item.runtime ? { runtime: item.runtime } : {}),
      }
    : { name, state: "active" };
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
  private readonly cache = new Map<string, { status: StreamStatus; known: boolean; at: number }>();
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
    return (await this.lookup(name)).status;
  }

  /** The status, and whether the table has an item for the stream at all. */
  async lookup(name: string): Promise<{ status: StreamStatus; known: boolean }> {
    const out = await this.dynamo.send(new GetCommand({ TableName: this.table, Key: { pk: pk(name) } }));
    const item = out.Item as ControlItem | undefined;
    return { status: statusOf(name, item), known: item?.state !== undefined };
  }

  /**
   * The status for ingest, cached up to `ttlMs` (misses too, so a stream created elsewhere is
   * seen within the cache time); `known` is false when the table has no item for it.
   */
  async describe(name: string): Promise<{ status: StreamStatus; known: boolean }> {
    const now = this.clock();
    const hit = this.cache.get(name);
    if (hit && now - hit.at < this.ttlMs) return hit;
    const found = await this.lookup(name);
    this.cache.set(name, { ...found, at: now });
    return found;
  }

  /** The state for ingest: cached up to `ttlMs`. */
  async current(name: string): Promise<StreamState> {
    return (await this.describe(name)).status.state;
  }

  /**
   * Creates a stream at run time: its item is written `creating` only if the name has none, then
   * made `active`. A name with an item (created before, or a declared stream once changed) is 409
   * STREAM_EXISTS; callers refuse declared names first.
   */
  async create(name: string, runtime: RuntimeStreamDef): Promise<StreamStatus> {
    const at = new Date(this.clock()).toISOString();
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: pk(name), state: "creating", updatedAt: at, createdAt: at, runtime },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (err) {
      if ((err as Error).name !== "ConditionalCheckFailedException") throw err;
      const now = await this.read(name);
      throw new SluiceError("STREAM_EXISTS", `stream ${name} exists (${now.state})`, 409, "/name");
    }
    await this.transition(name, "create", ["creating"], "active");
    this.cache.delete(name);
    return this.read(name);
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
        found.set(name, statusOf(name, item as ControlItem));
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
    change: StreamChange | "create",
    from: readonly StreamState[],
    to: StreamState,
  ): Promise<StreamState> {
    const values: Record<string, string> = {};
    from.forEach((s, i) => {
      values[`:f${i}`] = s;
    });
    // A declared stream without an item is active; a run-time one always has its item.
    const fromActive = from.includes("active");
    const condition = [
      ...(fromActive ? ["attribute_not_exists(pk)"] : []),
      `#s IN (${from.map((_, i) => `:f${i}`).join(", ")})`,
    ].join(" OR ");
    try {
      await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pk(name) },
          // An update, not a put: a run-time stream's definition stays on its item.
          UpdateExpression: "SET #s = :to, updatedAt = :at",
          ConditionExpression: condition,
          ExpressionAttributeNames: { "#s": "state" },
          ExpressionAttributeValues: { ...values, ":to": to, ":at": new Date(this.clock()).toISOString() },
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
      if (change === "create")
        throw new SluiceError("STREAM_EXISTS", `stream ${name} is ${now.state}`, 409, "/name");
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
