/** Turns the validated raw data into the typed `Manifest`, applying every default. */
import type { CompatibilityMode } from "../schema-compat/modes.ts";
import type {
  AlarmSubscriptions,
  AuthSettings,
  BatchSettings,
  JsonSchema,
  JwtSettings,
  KinesisSettings,
  Manifest,
  PipelineDef,
  RuntimeStreamsSettings,
  SchemaDef,
  SinkDef,
  StreamDef,
  TransformStep,
} from "./types.ts";

export interface RawManifest {
  readonly name: string;
  readonly kinesis?: Partial<KinesisSettings>;
  readonly schemas: readonly {
    readonly name: string;
    readonly namespace?: string;
    readonly file: string;
    readonly compatibility?: CompatibilityMode;
  }[];
  readonly streams: readonly (Omit<
    StreamDef,
    "idempotencyTtlSeconds" | "maxFutureSkewSeconds" | "encryption" | "retention"
  > &
    Partial<Pick<StreamDef, "idempotencyTtlSeconds" | "maxFutureSkewSeconds" | "encryption">> & {
      readonly retention?: { readonly days: number; readonly errorDays?: number };
    })[];
  readonly pipelines?: readonly (Omit<PipelineDef, "steps" | "batch"> & {
    readonly steps?: readonly TransformStep[];
    readonly batch?: Partial<BatchSettings>;
  })[];
  readonly sinks?: readonly (Omit<SinkDef, "compression" | "rowGroupSize" | "roll"> &
    Partial<Pick<SinkDef, "compression" | "rowGroupSize">> & { readonly roll?: Partial<SinkDef["roll"]> })[];
  readonly alarms?: Partial<AlarmSubscriptions>;
  readonly runtimeStreams?: Partial<RuntimeStreamsSettings> & { readonly pipeline: string };
  readonly auth?: {
    readonly apiKeys?: boolean;
    readonly jwt?: Omit<JwtSettings, "leewaySeconds" | "rolesClaim" | "streamsClaim"> &
      Partial<Pick<JwtSettings, "leewaySeconds" | "rolesClaim" | "streamsClaim">>;
  };
}

/** Applies the defaults documented in types.ts; optional keys stay absent rather than undefined. */
export function buildManifest(
  raw: RawManifest,
  name: string,
  path: string,
  schemas: ReadonlyMap<string, JsonSchema>,
): Manifest {
  const kinesis: KinesisSettings = {
    mode: raw.kinesis?.mode ?? "on-demand",
    shards: raw.kinesis?.shards ?? 1,
    retentionHours: raw.kinesis?.retentionHours ?? 24,
  };
  const schemaDefs: SchemaDef[] = raw.schemas.map((schema) => ({
    name: schema.name,
    namespace: schema.namespace ?? "default",
    file: schema.file,
    schema: schemas.get(schema.name) ?? {},
    ...(schema.compatibility === undefined ? {} : { compatibility: schema.compatibility }),
  }));
  const streams: StreamDef[] = raw.streams.map((stream) => ({
    name: stream.name,
    schema: stream.schema,
    ...(stream.eventTimeField === undefined ? {} : { eventTimeField: stream.eventTimeField }),
    ...(stream.partitionKey === undefined ? {} : { partitionKey: stream.partitionKey }),
    idempotencyTtlSeconds: stream.idempotencyTtlSeconds ?? 86400,
    maxFutureSkewSeconds: stream.maxFutureSkewSeconds ?? 300,
    encryption: stream.encryption ?? "none",
    ...(stream.retention === undefined
      ? {}
      : {
          retention: {
            days: stream.retention.days,
            errorDays: stream.retention.errorDays ?? stream.retention.days + 30,
          },
        }),
  }));
  const pipelines: PipelineDef[] = (raw.pipelines ?? []).map((pipeline) => ({
    name: pipeline.name,
    sources: [...pipeline.sources],
    steps: [...(pipeline.steps ?? [])],
    ...(pipeline.transformerArn === undefined ? {} : { transformerArn: pipeline.transformerArn }),
    sink: pipeline.sink,
    ...(pipeline.schema === undefined ? {} : { schema: pipeline.schema }),
    batch: {
      size: pipeline.batch?.size ?? 1000,
      windowSeconds: pipeline.batch?.windowSeconds ?? 5,
      maxRetries: pipeline.batch?.maxRetries ?? 5,
      bisectOnError: pipeline.batch?.bisectOnError ?? true,
      onFailure: pipeline.batch?.onFailure ?? "queue",
    },
  }));
  const sinks: SinkDef[] = (raw.sinks ?? []).map((sink) => ({
    name: sink.name,
    type: sink.type,
    ...(sink.partition === undefined ? {} : { partition: [...sink.partition] }),
    ...(sink.sortOrder === undefined ? {} : { sortOrder: [...sink.sortOrder] }),
    ...(sink.compaction === undefined ? {} : { compaction: { ...sink.compaction } }),
    ...(sink.bucket === undefined ? {} : { bucket: sink.bucket }),
    prefix: sink.prefix,
    compression: sink.compression ?? "zstd",
    rowGroupSize: sink.rowGroupSize ?? 100000,
    roll: {
      maxRecords: sink.roll?.maxRecords ?? 100000,
      maxBytes: sink.roll?.maxBytes ?? 67108864,
    },
    ...(sink.kmsKeyArn === undefined ? {} : { kmsKeyArn: sink.kmsKeyArn }),
  }));
  const jwt = raw.auth?.jwt;
  const auth: AuthSettings = {
    apiKeys: raw.auth?.apiKeys ?? true,
    ...(jwt === undefined
      ? {}
      : {
          jwt: {
            jwksUrl: jwt.jwksUrl,
            issuer: jwt.issuer,
            audience: typeof jwt.audience === "string" ? jwt.audience : [...jwt.audience],
            leewaySeconds: jwt.leewaySeconds ?? 60,
            rolesClaim: jwt.rolesClaim ?? "roles",
            streamsClaim: jwt.streamsClaim ?? "sluice_streams",
          },
        }),
  };
  const alarms: AlarmSubscriptions | undefined = raw.alarms && {
    email: raw.alarms.email ?? [],
    https: raw.alarms.https ?? [],
    slack: raw.alarms.slack ?? [],
  };
  const runtimeStreams: RuntimeStreamsSettings | undefined = raw.runtimeStreams && {
    pipeline: raw.runtimeStreams.pipeline,
    idempotencyTtlSeconds: raw.runtimeStreams.idempotencyTtlSeconds ?? 86400,
    maxFutureSkewSeconds: raw.runtimeStreams.maxFutureSkewSeconds ?? 300,
  };
  return {
    version: 1,
    name,
    kinesis,
    schemas: schemaDefs,
    streams,
    pipelines,
    sinks,
    auth,
    ...(alarms ? { alarms } : {}),
    ...(runtimeStreams ? { runtimeStreams } : {}),
    path,
  };
}
