/** Lambda entry point of the ingest API: configuration from the environment, the app, Middy around it. */
import {
  awsSettingsFromEnv,
  clientBase,
  dynamoClient,
  kinesisClient,
  kinesisPutClient,
  kmsClient,
} from "../core/aws-clients.ts";
import { lambdaHandler, observability, tracedClients } from "../core/lambda-handler.ts";
import { INGEST_SERVICE } from "../core/metrics.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createIngestApp } from "./app.ts";

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const o = await observability({ service: INGEST_SERVICE, app: config.app, env: process.env });
const base = clientBase(awsSettingsFromEnv(process.env));

export const handler = lambdaHandler(
  createIngestApp({
    config,
    clients: tracedClients(o.tracer, {
      kinesis: kinesisClient(base),
      kinesisPut: kinesisPutClient(base),
      dynamo: dynamoClient(base),
      kms: kmsClient(base),
    }),
    logger: o.logger,
    metrics: o.metrics,
  }),
  o,
  "requestContext.requestId",
);
