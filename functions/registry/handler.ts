/** Lambda entry point of the schema registry API: configuration from the environment, then the app. */
import { awsSettingsFromEnv, createAwsClients } from "../core/aws-clients.ts";
import { createGlueClient } from "../core/catalog/glue-client.ts";
import { createLogger, type LogLevel } from "../core/logger.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createRegistryApp } from "./app.ts";

const settings = awsSettingsFromEnv(process.env);

export const handler = createRegistryApp({
  config: parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]),
  clients: createAwsClients(settings),
  glue: createGlueClient(settings),
  logger: createLogger("sluice-registry", (process.env.LOG_LEVEL as LogLevel | undefined) ?? "info"),
});
