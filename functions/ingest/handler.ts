/** Lambda entry point of the ingest API: configuration from the environment, then the app. */
import { awsSettingsFromEnv, createAwsClients } from "../core/aws-clients.ts";
import { createLogger, type LogLevel } from "../core/logger.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createIngestApp } from "./app.ts";

export const handler = createIngestApp({
  config: parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]),
  clients: createAwsClients(awsSettingsFromEnv(process.env)),
  logger: createLogger("sluice-ingest", (process.env.LOG_LEVEL as LogLevel | undefined) ?? "info"),
});
