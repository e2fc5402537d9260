/**
 * The environment each function gets. Lambda allows 4 KB of environment in total, so each function
 * carries only the part of the runtime config it reads: ingest the streams (no pipelines), the
 * schema registry the catalog (no streams or pipelines), a pipeline's functions their own
 * pipeline (no streams, no other pipelines); only the registry gets the catalog's tables. Slimming removes parts
 * rather than picking them, so settings added to the config later (auth, ...) still arrive. The
 * size grows with one pipeline or with the streams, never with the number of pipelines.
 * Plain data, so `sluice validate` checks the limit with the same slices the CDK app deploys.
 */
import { glueName } from "./catalog/projection.ts";
import {
  lakePipelineOf,
  type ReadConfig,
  type ReadPipelineRuntime,
  RUNTIME_CONFIG_ENV,
  type RuntimeConfig,
} from "./runtime-config.ts";

/** Lambda's limit on the total size of a function's environment variables. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** The variable naming the pipeline a batcher or transformer serves. */
export const PIPELINE_ENV = "SLUICE_PIPELINE";

export function ingestConfig(config: RuntimeConfig): RuntimeConfig {
  return { ...config, pipelines: {}, catalog: { database: config.catalog.database, tables: [] } };
}

/** The schema registry reads the tables, auth and the catalog; streams and pipelines not at all. */
export function registryConfig(config: RuntimeConfig): RuntimeConfig {
  return { ...config, streams: {}, pipelines: {} };
}

/** The admin function checks key requests against the stream names; pipelines and catalog not at all. */
export function adminConfig(config: RuntimeConfig): RuntimeConfig {
  return { ...config, pipelines: {}, catalog: { database: config.catalog.database, tables: [] } };
}

/** Import jobs read the streams (to validate records as ingest does); pipelines and catalog not at all. */
export function importsConfig(config: RuntimeConfig): RuntimeConfig {
  return { ...config, pipelines: {}, catalog: { database: config.catalog.database, tables: [] } };
}

/**
 * The read path's slice: every stream, and of the pipelines only each stream's lake, without its
 * steps, batching or sink settings (the reader needs the bucket and the prefix template; the
 * files carry their column types). Grows with the streams, not with the pipelines.
 */
export function readConfig(config: RuntimeConfig): ReadConfig {
  const { catalog, pipelines: all, ...rest } = config;
  const lakes = new Set(
    Object.keys(config.streams).flatMap((stream) => lakePipelineOf(all, stream)?.name ?? []),
  );
  // In the full config's order, so each stream picks the same lake from the slice.
  const pipelines: Record<string, ReadPipelineRuntime> = {};
  for (const p of Object.values(all)) {
    if (!lakes.has(p.name)) continue;
    pipelines[p.name] = {
      name: p.name,
      sources: p.sources,
      ...(p.transformer === undefined ? {} : { transformer: p.transformer }),
      ...(p.outputSubject === undefined ? {} : { outputSubject: p.outputSubject }),
      sink: {
        name: p.sink.name,
        bucket: p.sink.bucket,
        prefix: p.sink.prefix,
        ...(p.sink.type === "iceberg"
          ? { table: { database: catalog.database, table: glueName(p.sink.name) } }
          : {}),
      },
    };
  }
  return { ...rest, pipelines };
}

export function pipelineConfig(config: RuntimeConfig, pipeline: string): RuntimeConfig {
  const own = config.pipelines[pipeline];
  if (!own) throw new Error(`pipeline ${pipeline} is not in the runtime config`);
  return {
    ...config,
    streams: {},
    pipelines: { [pipeline]: own },
    catalog: { database: config.catalog.database, tables: [] },
  };
}

/**
 * Bytes the variables take as Lambda counts them (names and values). Unresolved tokens (account,
 * region) count at their placeholder length, which is longer than what they resolve to.
 */
export function environmentBytes(env: Readonly<Record<string, string>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(env)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  return bytes;
}

/** The variables a function gets: its config slice, its extras, and what SluiceFunction adds. */
export function environmentOf(
  config: RuntimeConfig | ReadConfig,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return { [RUNTIME_CONFIG_ENV]: JSON.stringify(config), ...extra };
}

/** NODE_OPTIONS, which SluiceFunction adds to every function, counted with the rest. */
export const ADDED_ENVIRONMENT: Readonly<Record<string, string>> = { NODE_OPTIONS: "--enable-source-maps" };
