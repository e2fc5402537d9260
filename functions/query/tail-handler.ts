/**
 * Lambda entry point of the tail, behind a function URL with response streaming (API Gateway HTTP
 * APIs do not stream). The URL's own auth is NONE: the app checks the API key or JWT exactly as
 * the API's routes do (the same `Auth`, the same `read` action on the stream), before the stream
 * starts, and answers a refusal as the API does (401/403 JSON).
 */
import {
  awsSettingsFromEnv,
  clientBase,
  dynamoClient,
  kinesisClient,
  kmsClient,
  s3Client,
} from "../core/aws-clients.ts";
import { createGlueClient } from "../core/catalog/glue-client.ts";
import { observability, streamingLambdaHandler, tracedClients } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, type ReadConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createTailApp } from "./tail-app.ts";

const config = parseRuntimeConfig<ReadConfig>(process.env[RUNTIME_CONFIG_ENV]);
const o = await observability({ service: "sluice-tail", app: config.app, env: process.env });
const settings = awsSettingsFromEnv(process.env);
const base = clientBase(settings);
// Only a lake that is an Iceberg table needs the catalog (its snapshot's files and progress).
const icebergLakes = Object.values(config.pipelines).some((p) => p.sink.table !== undefined);

export const handler = streamingLambdaHandler(
  createTailApp({
    config,
    clients: tracedClients(o.tracer, {
      s3: s3Client(base),
      dynamo: dynamoClient(base),
      kinesis: kinesisClient(base),
      kms: kmsClient(base),
    }),
    logger: o.logger,
    ...(icebergLakes ? { glue: createGlueClient(settings) } : {}),
  }),
  o,
  "requestContext.requestId",
);
