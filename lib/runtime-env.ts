/** The environment each function gets, checked against Lambda's limit at synth time. */

import type { ReadConfig, RuntimeConfig } from "../functions/core/runtime-config.ts";
import {
  ADDED_ENVIRONMENT,
  environmentBytes,
  environmentOf,
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
} from "../functions/core/runtime-env.ts";

export {
  adminConfig,
  ingestConfig,
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
  PIPELINE_ENV,
  pipelineConfig,
  readConfig,
  registryConfig,
} from "../functions/core/runtime-env.ts";

export class EnvironmentTooLarge extends Error {
  override readonly name = "EnvironmentTooLarge";
}

/**
 * The environment for a function, checked against the limit at synth time, so an oversized config
 * fails `cdk synth` with the function's name instead of failing the deployment half way.
 */
export function functionEnvironment(
  functionName: string,
  config: RuntimeConfig | ReadConfig,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env = environmentOf(config, extra);
  // NODE_OPTIONS is added by SluiceFunction; count it here so the check covers the whole set.
  const bytes = environmentBytes({ ...env, ...ADDED_ENVIRONMENT });
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    throw new EnvironmentTooLarge(
      `${functionName}: its configuration takes ${bytes} bytes of environment, over Lambda's ` +
        `${LAMBDA_ENVIRONMENT_LIMIT_BYTES}; shorten this pipeline's steps or split the streams across apps`,
    );
  }
  return env;
}
