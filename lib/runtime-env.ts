/**
 * The environment each function gets. Lambda allows 4 KB of environment in total, so each function
 * carries only the part of the runtime config it reads: ingest the streams (no pipelines), the
 * schema registry the catalog (no streams or pipelines), a pipeline's functions their own
 * pipeline (no streams, no other pipelines); only the registry gets the catalog's tables. Slimming removes parts
 * rather than picking them, so settings added to the config later (auth, ...) still arrive. The
 * size grows with one pipeline or with the streams, never with the number of pipelines.
 */
import { RUNTIME_CONFIG_ENV, type RuntimeConfig } from "../functions/core/runtime-config.ts";

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

export class EnvironmentTooLarge extends Error {
  override readonly name = "EnvironmentTooLarge";
}

/**
 * The environment for a function, checked against the limit at synth time, so an oversized config
 * fails `cdk synth` with the function's name instead of failing the deployment half way.
 */
export function functionEnvironment(
  functionName: string,
  config: RuntimeConfig,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env = { [RUNTIME_CONFIG_ENV]: JSON.stringify(config), ...extra };
  // NODE_OPTIONS is added by SluiceFunction; count it here so the check covers the whole set.
  const bytes = environmentBytes({ ...env, NODE_OPTIONS: "--enable-source-maps" });
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    throw new EnvironmentTooLarge(
      `${functionName}: its configuration takes ${bytes} bytes of environment, over Lambda's ` +
        `${LAMBDA_ENVIRONMENT_LIMIT_BYTES}; shorten this pipeline's steps or split the streams across apps`,
    );
  }
  return env;
}
