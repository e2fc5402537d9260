/**
 * Schema registry over the schemas table: pk `subject` (`{namespace}.{name}`), sk `version`.
 * Version 0 is the subject's own item (compatibility mode, the field ids handed out so far, a
 * revision for optimistic writes); versions 1..n hold the schema text, its canonical fingerprint
 * (re-registering the same schema is a no-op) and its columns' Parquet field ids. A new version
 * and the subject item are written in one transaction, so ids are never handed out twice.
 */
import { createHash } from "node:crypto";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { SluiceError } from "./errors.ts";
import type { JsonSchema } from "./manifest/types.ts";
import { type CompiledPlan, planColumns } from "./parquet/columns.ts";
import { assignFieldIds, type FieldIdMap, type FieldIdState } from "./parquet/field-ids.ts";
import { checkCompatibility, type Incompatibility } from "./schema-compat/index.ts";
import { type CompatibilityMode, DEFAULT_COMPATIBILITY } from "./schema-compat/modes.ts";

export type { CompatibilityMode } from "./schema-compat/modes.ts";

export interface SchemaVersion {
  readonly subject: string;
  readonly version: number;
  readonly schema: JsonSchema;
  readonly fingerprint: string;
  readonly createdAt: string;
  /** Parquet field id of each column, by schema path; absent on versions registered before ids. */
  readonly fieldIds?: FieldIdMap;
}

export interface RegisterResult extends SchemaVersion {
  /** False when an identical schema was already registered. */
  readonly created: boolean;
  readonly compatibility: CompatibilityMode;
}

export interface RegisterOptions {
  /** Sets the subject's mode before the check, as `PUT .../config` would. */
  readonly compatibility?: CompatibilityMode;
  readonly now?: Date;
}

/** A version the subject's mode forbids: 409 with every incompatibility. */
export class SchemaIncompatibleError extends SluiceError {
  constructor(
    readonly subject: string,
    readonly mode: CompatibilityMode,
    readonly incompatibilities: readonly Incompatibility[],
  ) {
    super(
      "SCHEMA_INCOMPATIBLE",
      `the schema is not ${mode} compatible with ${subject}: ${incompatibilities.length} incompatibilit${incompatibilities.length === 1 ? "y" : "ies"}`,
      409,
      "/schema",
    );
  }

  override toDetail() {
    return { ...super.toDetail(), mode: this.mode, incompatibilities: this.incompatibilities };
  }
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
  fieldIds?: Record<string, number>;
}

/** Version 0. `revision` guards every write of it; `fieldIds` is a FieldIdState as JSON. */
interface SubjectItem {
  subject: string;
  version: 0;
  revision: number;
  compatibility?: CompatibilityMode;
  fieldIds?: string;
}

function fromItem(item: VersionItem): SchemaVersion {
  return {
    subject: item.subject,
    version: item.version,
    schema: JSON.parse(item.schema) as JsonSchema,
    fingerprint: item.fingerprint,
    createdAt: item.createdAt,
    ...(item.fieldIds ? { fieldIds: item.fieldIds } : {}),
  };
}

const isConflict = (err: unknown) => {
  const name = (err as { name?: string }).name;
  return name === "ConditionalCheckFailedException" || name === "TransactionCanceledException";
};

/** The column ids of a new version; a schema whose columns cannot be planned is invalid. */
function fieldIdsOf(schema: JsonSchema, state: FieldIdState | undefined) {
  let plan: CompiledPlan;
  try {
    plan = planColumns(schema);
  } catch (err) {
    throw new SluiceError("INVALID_SCHEMA", (err as Error).message, 400, "/schema");
  }
  return assignFieldIds(plan.fields, state);
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

  private async subjectItem(subject: string): Promise<SubjectItem | undefined> {
    const out = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: { subject, version: 0 }, ConsistentRead: true }),
    );
    return out.Item as SubjectItem | undefined;
  }

  /** The subject's compatibility mode: its own, else the default. */
  async compatibility(subject: string): Promise<CompatibilityMode> {
    return (await this.subjectItem(subject))?.compatibility ?? DEFAULT_COMPATIBILITY;
  }

  async setCompatibility(subject: string, mode: CompatibilityMode): Promise<void> {
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { subject, version: 0 },
        UpdateExpression: "SET compatibility = :m ADD revision :one",
        ExpressionAttributeValues: { ":m": mode, ":one": 1 },
      }),
    );
  }

  /** What registering `schema` would meet: the subject's mode and every incompatibility. */
  async check(
    subject: string,
    schema: JsonSchema,
    mode?: CompatibilityMode,
  ): Promise<{ mode: CompatibilityMode; checkedAgainst: number[]; incompatibilities: Incompatibility[] }> {
    const [existing, item] = await Promise.all([this.versions(subject), this.subjectItem(subject)]);
    const used = mode ?? item?.compatibility ?? DEFAULT_COMPATIBILITY;
    return {
      mode: used,
      checkedAgainst: existing.map((v) => v.version),
      incompatibilities: checkCompatibility(used, schema, existing),
    };
  }

  /**
   * Registers `schema` under `subject`, returning the existing version when the canonical schema
   * is already there. A version the subject's mode forbids throws SchemaIncompatibleError. The
   * version and the subject item go in one transaction guarded by the subject's revision, so
   * concurrent registrations retry rather than both taking a version or the same field ids.
   */
  async register(
    subject: string,
    schema: JsonSchema,
    options: RegisterOptions = {},
  ): Promise<RegisterResult> {
    const fingerprint = schemaFingerprint(schema);
    if (options.compatibility !== undefined) await this.setCompatibility(subject, options.compatibility);
    for (let attempt = 0; attempt < 10; attempt++) {
      const [existing, item] = await Promise.all([this.versions(subject), this.subjectItem(subject)]);
      const mode = item?.compatibility ?? DEFAULT_COMPATIBILITY;
      const same = existing.find((v) => v.fingerprint === fingerprint);
      if (same) return { ...same, created: false, compatibility: mode };
      const incompatibilities = checkCompatibility(mode, schema, existing);
      if (incompatibilities.length > 0) throw new SchemaIncompatibleError(subject, mode, incompatibilities);
      const state = item?.fieldIds ? (JSON.parse(item.fieldIds) as FieldIdState) : undefined;
      const ids = fieldIdsOf(schema, state);
      const version = existing.reduce((max, v) => Math.max(max, v.version), 0) + 1;
      const versionItem: VersionItem = {
        subject,
        version,
        schema: JSON.stringify(schema),
        fingerprint,
        createdAt: (options.now ?? new Date()).toISOString(),
        fieldIds: { ...ids.ids },
      };
      const revision = item?.revision ?? 0;
      const subjectItem: SubjectItem = {
        subject,
        version: 0,
        revision: revision + 1,
        ...(item?.compatibility ? { compatibility: item.compatibility } : {}),
        fieldIds: JSON.stringify(ids.state),
      };
      try {
        await this.dynamo.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.table,
                  Item: versionItem,
                  ConditionExpression: "attribute_not_exists(version)",
                },
              },
              {
                Put: {
                  TableName: this.table,
                  Item: subjectItem,
                  ...(item
                    ? {
                        ConditionExpression: "revision = :r",
                        ExpressionAttributeValues: { ":r": revision },
                      }
                    : { ConditionExpression: "attribute_not_exists(subject)" }),
                },
              },
            ],
          }),
        );
        return { ...fromItem(versionItem), created: true, compatibility: mode };
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    throw new SluiceError(
      "UNAVAILABLE",
      `could not register a version of ${subject}: too much contention`,
      503,
    );
  }
}
