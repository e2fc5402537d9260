/**
 * The slice of the manifest a function needs at run time, with resource names resolved.
 * The CDK app and the local runner build it with `runtimeConfig`; a Lambda reads it once from
 * its environment with `parseRuntimeConfig`, and nothing deeper reads `process.env`.
 * Not @aws-lambda-powertools/parameters: nothing here lives in SSM, Secrets Manager or AppConfig;
 * the configuration is deploy-time data in the environment, the JWKS is fetched by jose and API
 * keys are looked up (hashed) in DynamoDB, each with its own cache.
 */
import { glueName } from "./catalog/projection.ts";
import type { CatalogConfig } from "./catalog/sync.ts";
import type {
  AuthSettings,
  BatchSettings,
  Manifest,
  RuntimeStreamsSettings,
  SinkDef,
  TransformStep,
} from "./manifest/types.ts";
import { type ResourceNames, resourceNames } from "./names.ts";

export interface StreamRuntime {
  readonly name: string;
  /** Registry subject `{namespace}.{name}` of the stream's schema. */
  readonly subject: string;
  readonly eventTimeField?: string;
  readonly partitionKey?: string;
  readonly idempotencyTtlSeconds: number;
  readonly maxFutureSkewSeconds: number;
  /** Present when ingest encrypts the stream's payloads (`encryption: payload` in the manifest). */
  readonly encryption?: "payload";
}

export interface SinkRuntime extends Omit<SinkDef, "bucket" | "kmsKeyArn"> {
  readonly bucket: string;
  /** Key id, ARN or alias used for SSE-KMS. */
  readonly kmsKeyId: string;
}

export interface PipelineRuntime {
  readonly name: string;
  readonly sources: readonly string[];
  readonly steps: readonly TransformStep[];
  /** Function name or ARN of the transformer; absent when the pipeline has no transform. */
  readonly transformer?: string;
  readonly sink: SinkRuntime;
  /** Registry subject of the transformer's output schema; each record's own when absent. */
  readonly outputSubject?: string;
  readonly batch: BatchSettings;
  /**
   * On the manifest's `runtimeStreams` pipeline: it also reads every stream not declared here
   * (those created at run time).
   */
  readonly runtimeStreams?: { readonly declared: readonly string[] };
}

/**
 * Import jobs (functions/imports): where sources may be read from and where chunks queue. Sources
 * are the sinks' buckets under `prefix` only; a job's rejected lines go beside its source, under
 * `errors/imports/{job}/` of the same bucket.
 */
export interface ImportsRuntime {
  /** The SQS queue of chunks, by name (functions look its URL up once). */
  readonly queue: string;
  /** Buckets an import may read, each with the key its objects (and errors) are encrypted under. */
  readonly buckets: readonly { readonly name: string; readonly kmsKeyId: string }[];
  /** The key prefix sources must be under in those buckets. */
  readonly prefix: string;
}

/** Where import sources must live in the sinks' buckets (and what the import grants read). */
export const IMPORTS_PREFIX = "imports/";

export interface RuntimeConfig {
  readonly app: string;
  readonly eventStream: string;
  readonly tables: ResourceNames["tables"];
  readonly kmsKeyId: string;
  readonly streams: Readonly<Record<string, StreamRuntime>>;
  readonly pipelines: Readonly<Record<string, PipelineRuntime>>;
  /** How ingest callers authenticate; the API keys live in `tables.apiKeys`. */
  readonly auth: AuthSettings;
  /** The Glue tables over the sinks, which schema registration keeps on the registered columns. */
  readonly catalog: CatalogConfig;
  readonly imports: ImportsRuntime;
  /** Where streams created at run time go; absent: only declared streams exist. */
  readonly runtimeStreams?: RuntimeStreamsSettings;
}

/**
 * What the read path (query function, tail, gRPC QueryService) knows of a pipeline: where its
 * files are and whose records they hold. The Parquet files carry their own column types, so no
 * schema travels with it. A full `PipelineRuntime` is one.
 */
export interface ReadPipelineRuntime {
  readonly name: string;
  readonly sources: readonly string[];
  readonly transformer?: string;
  readonly outputSubject?: string;
  readonly sink: Pick<SinkRuntime, "name" | "bucket" | "prefix"> & {
    /** An Iceberg sink's Glue table: queries read its snapshot's files. */
    readonly table?: { readonly database: string; readonly table: string };
  };
}

/** The runtime config the read path needs: every stream, and only the pipelines whose files it reads. */
export interface ReadConfig extends Omit<RuntimeConfig, "pipelines" | "catalog"> {
  readonly pipelines: Readonly<Record<string, ReadPipelineRuntime>>;
}

/**
 * The pipeline whose files are a stream's lake: the first reading it without a transform (its
 * files hold the records as sent), else the first reading it at all.
 */
export function lakePipelineOf<P extends ReadPipelineRuntime>(
  pipelines: Readonly<Record<string, P>>,
  stream: string,
): P | undefined {
  const feeding = Object.values(pipelines).filter((p) => p.sources.includes(stream));
  return feeding.find((p) => p.transformer === undefined) ?? feeding[0];
}

export function subjectOf(namespace: string, name: string): string {
  return `${namespace}.${name}`;
}

/** `stage` qualifies every resource name (a deployed stack); the local runner has none. */
export function runtimeConfig(
  manifest: Manifest,
  account: string,
  region: string,
  stage?: string,
): RuntimeConfig {
  const names = resourceNames(manifest.name, account, region, stage);
  const schemas = new Map(manifest.schemas.map((s) => [s.name, s]));
  const sinks = new Map(manifest.sinks.map((s) => [s.name, s]));
  const streams: Record<string, StreamRuntime> = {};
  for (const s of manifest.streams) {
    const schema = schemas.get(s.schema);
    if (!schema) throw new Error(`stream ${s.name}: unknown schema ${s.schema}`);
    streams[s.name] = {
      name: s.name,
      subject: subjectOf(schema.namespace, schema.name),
      ...(s.eventTimeField === undefined ? {} : { eventTimeField: s.eventTimeField }),
      ...(s.partitionKey === undefined ? {} : { partitionKey: s.partitionKey }),
      idempotencyTtlSeconds: s.idempotencyTtlSeconds,
      maxFutureSkewSeconds: s.maxFutureSkewSeconds,
      ...(s.encryption === "payload" ? { encryption: "payload" as const } : {}),
    };
  }
  const subjectOfSchema = (name: string) => {
    const schema = schemas.get(name);
    if (!schema) throw new Error(`unknown schema ${name}`);
    return subjectOf(schema.namespace, schema.name);
  };
  const pipelines: Record<string, PipelineRuntime> = {};
  for (const p of manifest.pipelines) {
    const sink = sinks.get(p.sink);
    if (!sink) throw new Error(`pipeline ${p.name}: unknown sink ${p.sink}`);
    const { bucket, kmsKeyArn, ...sinkRest } = sink;
    const transformer =
      p.transformerArn ?? (p.steps.length > 0 ? names.transformFunction(p.name) : undefined);
    pipelines[p.name] = {
      name: p.name,
      sources: p.sources,
      steps: p.steps,
      ...(transformer === undefined ? {} : { transformer }),
      sink: { ...sinkRest, bucket: names.bucket(sink.name, bucket), kmsKeyId: kmsKeyArn ?? names.kmsAlias },
      ...(p.schema === undefined ? {} : { outputSubject: subjectOfSchema(p.schema) }),
      batch: p.batch,
      ...(manifest.runtimeStreams?.pipeline === p.name
        ? { runtimeStreams: { declared: manifest.streams.map((s) => s.name) } }
        : {}),
    };
  }
  const catalog: CatalogConfig = {
    database: names.glueDatabase,
    tables: manifest.sinks.map((sink) => {
      const feeding = Object.values(pipelines).filter((p) => p.sink.name === sink.name);
      const subjects = feeding.flatMap((p) =>
        p.outputSubject !== undefined ? [p.outputSubject] : p.sources.map((n) => streams[n]!.subject),
      );
      return {
        database: names.glueDatabase,
        table: glueName(sink.name),
        subjects: [...new Set(subjects)],
        ...(sink.type === "iceberg" ? { iceberg: true } : {}),
      };
    }),
  };
  return {
    // Staged, the app is `{app}-{stage}`: metrics namespaces and payload key contexts per stage.
    app: names.prefix,
    eventStream: names.eventStream,
    tables: names.tables,
    kmsKeyId: names.kmsAlias,
    streams,
    pipelines,
    auth: manifest.auth,
    catalog,
    imports: {
      queue: names.importQueue,
      buckets: manifest.sinks.map((s) => ({
        name: names.bucket(s.name, s.bucket),
        kmsKeyId: s.kmsKeyArn ?? names.kmsAlias,
      })),
      prefix: IMPORTS_PREFIX,
    },
    ...(manifest.runtimeStreams ? { runtimeStreams: manifest.runtimeStreams } : {}),
  };
}

/** Environment variable carrying the serialized config into a function. */
export const RUNTIME_CONFIG_ENV = "SLUICE_CONFIG";

/** The config, or the slice of it the function was given (`ReadConfig` for the read path). */
export function parseRuntimeConfig<C extends ReadConfig = RuntimeConfig>(raw: string | undefined): C {
  if (!raw) throw new Error(`${RUNTIME_CONFIG_ENV} is not set`);
  return JSON.parse(raw) as C;
}
