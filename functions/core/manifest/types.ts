/**
 * The typed form of `sluice.yaml`, produced by `loadManifest` after validation and defaults.
 * The CDK app and the local runner both build from this one object, so names and settings agree.
 */
import type { CompatibilityMode } from "../schema-compat/modes.ts";

/** A JSON Schema document, kept as plain data. */
export type JsonSchema = Record<string, unknown>;

export interface Manifest {
  /** Manifest format version; only 1 exists. */
  readonly version: 1;
  /** Application name: prefixes every resource name (`^[a-z][a-z0-9-]{1,30}$`). */
  readonly name: string;
  /** The one Kinesis stream all logical streams share. */
  readonly kinesis: KinesisSettings;
  readonly schemas: readonly SchemaDef[];
  readonly streams: readonly StreamDef[];
  readonly pipelines: readonly PipelineDef[];
  readonly sinks: readonly SinkDef[];
  /** Who may call the ingest API. @default { apiKeys: true } */
  readonly auth: AuthSettings;
  /** Who the deployed stack's alarms notify; absent: the topic has no subscribers. */
  readonly alarms?: AlarmSubscriptions;
  /** Where streams created at run time go; absent: only declared streams exist. */
  readonly runtimeStreams?: RuntimeStreamsSettings;
  /** Absolute path of the manifest file, for resolving relative paths and for messages. */
  readonly path: string;
}

/**
 * Streams created at run time (POST /v1/streams): they share the Kinesis stream and are
 * delivered by `pipeline`, whose sink prefix holds `{stream}`.
 */
export interface RuntimeStreamsSettings {
  readonly pipeline: string;
  /** @default 86400 */
  readonly idempotencyTtlSeconds: number;
  /** @default 300 */
  readonly maxFutureSkewSeconds: number;
}

export interface AlarmSubscriptions {
  readonly email: readonly string[];
  readonly https: readonly string[];
  readonly slack: readonly { readonly workspaceId: string; readonly channelId: string }[];
}

export interface KinesisSettings {
  /** @default "on-demand" */
  readonly mode: "on-demand" | "provisioned";
  /** Shard count when provisioned. @default 1 */
  readonly shards: number;
  /** @default 24 */
  readonly retentionHours: number;
}

/**
 * How callers authenticate. API keys and JWTs can be on together; with `apiKeys: false` and no
 * `jwt`, authentication is off and every caller acts as admin: for local experiments only.
 */
export interface AuthSettings {
  /** Accept API keys (`sk_...`) from the apiKeys table. @default true */
  readonly apiKeys: boolean;
  /** Accept JWT bearer tokens signed by a key in this JWKS; absent means no JWTs. */
  readonly jwt?: JwtSettings;
}

export interface JwtSettings {
  /** Where the signing keys are published; https, or http on loopback for tests. */
  readonly jwksUrl: string;
  /** Required `iss`. */
  readonly issuer: string;
  /** Required `aud`; a token must name at least one of these. */
  readonly audience: string | readonly string[];
  /** Clock skew allowed on `exp` and `nbf`. @default 60 */
  readonly leewaySeconds: number;
  /**
   * Claim holding Sluice roles (a list or a space-separated string; `sluice:` prefixes allowed).
   * A dotted path such as `realm_access.roles` reaches into objects. `scope` values of the form
   * `sluice:<role>` count as well. @default "roles"
   */
  readonly rolesClaim: string;
  /** Claim listing the streams the caller may use, or `"*"` for all. @default "sluice_streams" */
  readonly streamsClaim: string;
}

export interface SchemaDef {
  /** Subject name, e.g. `feedback`. */
  readonly name: string;
  /** @default "default" */
  readonly namespace: string;
  /** Path of the JSON Schema file, relative to the manifest. */
  readonly file: string;
  /** The parsed JSON Schema (draft-07 or 2020-12). */
  readonly schema: JsonSchema;
  /** Set on the subject when the manifest is applied; the registry's own (default BACKWARD) when absent. */
  readonly compatibility?: CompatibilityMode;
}

export interface StreamDef {
  /** `^[a-z0-9][a-z0-9._-]{0,127}$` */
  readonly name: string;
  /** Name of a schema in `schemas`. */
  readonly schema: string;
  /** Record field holding the event time (ISO-8601); the receive time when absent. */
  readonly eventTimeField?: string;
  /** Record field used as the Kinesis partition key; the record id when absent. */
  readonly partitionKey?: string;
  /** Idempotency window. @default 86400 (24 h) */
  readonly idempotencyTtlSeconds: number;
  /** How far in the future an event time may be. @default 300 */
  readonly maxFutureSkewSeconds: number;
  /**
   * `payload`: ingest encrypts each record's payload (AES-256-GCM under a KMS data key bound to
   * the app and stream) and the envelope carries `enc` instead of `data`, so reading Kinesis
   * shows only ciphertext; `none`: Kinesis's encryption at rest only. @default "none"
   */
  readonly encryption: "none" | "payload";
  /** S3 lifecycle of the stream's files; kept forever when absent. */
  readonly retention?: StreamRetention;
}

export interface StreamRetention {
  /** Days before the stream's data files expire. */
  readonly days: number;
  /** Days before its pipelines' errors/ files expire. @default days + 30 */
  readonly errorDays: number;
}

export type FilterOp = "eq" | "ne" | "in" | "gt" | "gte" | "lt" | "lte" | "exists" | "contains" | "regex";

export type FilterCondition =
  | { readonly field: string; readonly op: FilterOp; readonly value?: unknown }
  | { readonly and: readonly FilterCondition[] }
  | { readonly or: readonly FilterCondition[] }
  | { readonly not: FilterCondition };

/** One declarative transform step; exactly one key names its kind. */
export type TransformStep =
  | { readonly filter: FilterCondition }
  | { readonly rename: Readonly<Record<string, string>> }
  | { readonly project: readonly string[] }
  | { readonly set: Readonly<Record<string, unknown>> }
  | { readonly drop: readonly string[] }
  | {
      readonly coerce: Readonly<Record<string, "string" | "number" | "integer" | "boolean" | "timestamp">>;
      /** @default "fail" */
      readonly onError?: "fail" | "null" | "drop";
    }
  | {
      readonly timestamp: {
        readonly field: string;
        readonly formats?: readonly string[];
        readonly to?: string;
      };
    }
  | {
      readonly mask: {
        readonly fields: readonly string[];
        readonly mode: "redact" | "sha256";
        readonly salt?: string;
      };
    }
  | { readonly route: Readonly<Record<string, string>> }
  | { readonly custom: string; readonly options?: Readonly<Record<string, unknown>> };

export interface PipelineDef {
  /** `^[a-z][a-z0-9-]{0,40}$` */
  readonly name: string;
  /** Logical streams this pipeline reads (the ESM filter). */
  readonly sources: readonly string[];
  /** Declarative steps for the built-in transformer. @default [] */
  readonly steps: readonly TransformStep[];
  /** ARN of an external transformer speaking the Firehose contract, used instead of `steps`. */
  readonly transformerArn?: string;
  /** Name of a sink in `sinks`. */
  readonly sink: string;
  /**
   * Name of a schema in `schemas` describing what the transformer outputs; the Parquet columns
   * come from it. Each record's source schema when absent.
   */
  readonly schema?: string;
  readonly batch: BatchSettings;
}

export interface BatchSettings {
  /** Records per batcher invocation. @default 1000 */
  readonly size: number;
  /** Maximum batching window. @default 5 */
  readonly windowSeconds: number;
  /** @default 5 */
  readonly maxRetries: number;
  /** @default true */
  readonly bisectOnError: boolean;
  /**
   * Where the event source mapping files a batch it gives up on (retries exhausted and the
   * batcher's own filing under errors/ failed too): `queue`, the pipeline's SQS dead-letter queue
   * (the batch's shard and sequence range, 14 days; the records stay on the stream for its
   * retention), or `bucket`, the stack's failed-batches bucket (the whole invocation, records
   * included, kept 90 days, past any stream retention). @default "queue"
   */
  readonly onFailure: "queue" | "bucket";
}

export interface SinkDef {
  readonly name: string;
  /** parquet: prefix-partitioned files; iceberg: the same files committed to an Iceberg v2 table. */
  readonly type: "parquet" | "iceberg";
  /**
   * Iceberg partition spec, e.g. `["hour(ts)"]` or `["day(ts)", "identity(region)"]`; derived
   * from the prefix when absent (iceberg sinks only).
   */
  readonly partition?: readonly string[];
  /** Iceberg sort order: field paths, each optionally followed by ` desc` (iceberg sinks only). */
  readonly sortOrder?: readonly string[];
  /** Iceberg compaction of closed partitions' small files (iceberg sinks only). */
  readonly compaction?: {
    /** @default 134217728 (128 MiB) */
    readonly targetFileBytes?: number;
    /** How long after a partition's hour or day ended it counts as closed. @default 60 */
    readonly graceMinutes?: number;
  };
  /** Bucket name; derived from app, sink, account and region when absent. */
  readonly bucket?: string;
  /** Key prefix template, e.g. `{stream}/dt={yyyy}-{MM}-{dd}/hr={HH}/`. */
  readonly prefix: string;
  /** @default "zstd" */
  readonly compression: "zstd" | "snappy" | "gzip" | "none";
  /** @default 100000 */
  readonly rowGroupSize: number;
  readonly roll: {
    /** @default 100000 */
    readonly maxRecords: number;
    /** @default 67108864 (64 MiB) */
    readonly maxBytes: number;
  };
  /** KMS key for SSE-KMS; the app's key when absent. */
  readonly kmsKeyArn?: string;
}

/** Keys that name a transform step's kind; a step has exactly one. */
export const STEP_KINDS = [
  "filter",
  "rename",
  "project",
  "set",
  "drop",
  "coerce",
  "timestamp",
  "mask",
  "route",
  "custom",
] as const;
