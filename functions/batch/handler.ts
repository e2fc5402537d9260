/** Lambda entry point of a pipeline's batcher. */
import { awsSettingsFromEnv, createAwsClients } from "../core/aws-clients.ts";
import { lambdaInvoker } from "../core/lambda-invoker.ts";
import { createLogger, type LogLevel } from "../core/logger.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createBatchApp } from "./app.ts";

const settings = awsSettingsFromEnv(process.env);
const clients = createAwsClients(settings);

export const handler = createBatchApp({
  config: parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]),
  pipeline: process.env.SLUICE_PIPELINE ?? "",
  region: settings.region ?? "us-east-1",
  clients,
  invoke: lambdaInvoker(clients.lambda),
  logger: createLogger("sluice-batch", (process.env.LOG_LEVEL as LogLevel | undefined) ?? "info"),
});
