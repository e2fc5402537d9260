/**
 * Schema registry over the schemas table: pk `subject` (`{namespace}.{name}`), sk `version`.
 * Version 0 is the subject's own item (compatibility mode, latest version); versions 1..n hold
 * the schema text and its canonical fingerprint, so re-registering the same schema is a no-op.
 */
import { createHash } from "node:crypto";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
} from "@aws-sdk/lib-dynamodb";
import { SluiceError } from "./errors.ts";
import type { JsonSchema } from "./manifest/types.ts";

export type CompatibilityMode =
  | "NONE"
  | "BACKWARD"
  | "BACKWARD_TRANSITIVE"
  | "FORWARD"
  | "FORWARD_TRANSITIVE"
  | "FULL"
  | "FULL_TRANSITIVE";

export interface SchemaVersion {
  readonly subject: string;
  readonly version: number;
  readonly schema: JsonSchema;
  readonly fingerprint: string;
  readonly createdAt: string;
}

export interface RegisterResult extends SchemaVersion {
  /** False when an identical schema was already registered. */
  readonly created: boolean;
}

/** JSON with object keys sorted, so formatting and key order do not make a new version. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

export function schemaFingerprint(schema: JsonSchema): string {
  return createHash("sha256").update(canonicalJson(schema)).digest("hex");
}

interface VersionItem {
  subject: string;
  version: number;
  schema: string;
  fingerprint: string;
  createdAt: string;
}

function fromItem(item: VersionItem): SchemaVersion {
  return {
    subject: item.subject,
    version: item.version,
    schema: JSON.parse(item.schema) as JsonSchema,
    fingerprint: item.fingerprint,
    createdAt: item.createdAt,
  };
}

export class SchemaRegistry {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async latest(subject: string): Promise<SchemaVersion | undefined> {
    const out = await this.dynamo.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "subject = :s AND version > :z",
        ExpressionAttributeValues: { ":s": subject, ":z": 0 },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = out.Items?.[0] as VersionItem | undefined;
    return item ? fromItem(item) : undefined;
  }

  async get(subject: string, version: number): Promise<SchemaVersion | undefined> {
    const out = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: { subject, version }, ConsistentRead: true }),
    );
    return out.Item ? fromItem(out.Item as VersionItem) : undefined;
  }

  async versions(subject: string): Promise<SchemaVersion[]> {
    const items: VersionItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.dynamo.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "subject = :s AND version > :z",
          ExpressionAttributeValues: { ":s": subject, ":z": 0 },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items ?? []) as VersionItem[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items.map(fromItem);
  }

  /** Every subject with its latest version; the registry is small, so a scan is fine. */
  async subjects(): Promise<{ subject: string; latestVersion: number; versions: number }[]> {
    const latest = new Map<string, { latestVersion: number; versions: number }>();
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.dynamo.send(
        new ScanCommand({
          TableName: this.table,
          ProjectionExpression: "subject, version",
          FilterExpression: "version > :z",
          ExpressionAttributeValues: { ":z": 0 },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of (out.Items ?? []) as { subject: string; version: number }[]) {
        const seen = latest.get(item.subject) ?? { latestVersion: 0, versions: 0 };
        latest.set(item.subject, {
          latestVersion: Math.max(seen.latestVersion, item.version),
          versions: seen.versions + 1,
        });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return [...latest.entries()]
      .map(([subject, v]) => ({ subject, ...v }))
      .sort((a, b) => a.subject.localeCompare(b.subject));
  }

  /**
   * Registers `schema` under `subject`, returning the existing version when the canonical schema
   * is already there. Concurrent registrations race on a conditional put and retry.
   */
  async register(subject: string, schema: JsonSchema, now: Date = new Date()): Promise<RegisterResult> {
    const fingerprint = schemaFingerprint(schema);
    for (let attempt = 0; attempt < 10; attempt++) {
      const existing = await this.versions(subject);
      const same = existing.find((v) => v.fingerprint === fingerprint);
      if (same) return { ...same, created: false };
      const version = existing.reduce((max, v) => Math.max(max, v.version), 0) + 1;
      const item: VersionItem = {
        subject,
        version,
        schema: JSON.stringify(schema),
        fingerprint,
        createdAt: now.toISOString(),
      };
      try {
        await this.dynamo.send(
          new PutCommand({
            TableName: this.table,
            Item: item,
            ConditionExpression: "attribute_not_exists(version)",
          }),
        );
        return { ...fromItem(item), created: true };
      } catch (err) {
        if ((err as { name?: string }).name !== "ConditionalCheckFailedException") throw err;
      }
    }
    throw new SluiceError(
      "UNAVAILABLE",
      `could not register a version of ${subject}: too much contention`,
      503,
    );
  }
}
