/** Lambda entry point of a pipeline's batcher: configuration from the environment, the app, Middy around it. */
import { awsSettingsFromEnv, createAwsClients } from "../core/aws-clients.ts";
import { lambdaHandler, observability, tracedClients } from "../core/lambda-handler.ts";
import { lambdaInvoker } from "../core/lambda-invoker.ts";
import { BATCH_SERVICE } from "../core/metrics.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createBatchApp } from "./app.ts";

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const pipeline = process.env.SLUICE_PIPELINE ?? "";
const settings = awsSettingsFromEnv(process.env);
const o = await observability({
  service: BATCH_SERVICE,
  app: config.app,
  env: process.env,
  dimensions: { Pipeline: pipeline },
});
const clients = tracedClients(o.tracer, createAwsClients(settings));

export const handler = lambdaHandler(
  createBatchApp({
    config,
    pipeline,
    region: settings.region ?? "us-east-1",
    clients,
    invoke: lambdaInvoker(clients.lambda),
    logger: o.logger,
    metrics: o.metrics,
  }),
  o,
  // The batch's first record names it in the checkpoint and in its files' keys.
  "Records[0].kinesis.sequenceNumber",
);
