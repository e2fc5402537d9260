/** Lambda entry point of the import chunk worker (an SQS event source mapping, batch size 1). */
import {
  awsSettingsFromEnv,
  clientBase,
  dynamoClient,
  kinesisPutClient,
  kmsClient,
  s3Client,
} from "../core/aws-clients.ts";
import { ImportJobs } from "../core/imports/jobs.ts";
import { lambdaHandler, observability, tracedClients } from "../core/lambda-handler.ts";
import { IMPORT_SERVICE } from "../core/metrics.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createChunkApp } from "./chunk-app.ts";

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const o = await observability({ service: IMPORT_SERVICE, app: config.app, env: process.env });
const base = clientBase(awsSettingsFromEnv(process.env));
const clients = tracedClients(o.tracer, {
  dynamo: dynamoClient(base),
  s3: s3Client(base),
  kinesisPut: kinesisPutClient(base),
  kms: kmsClient(base),
});

export const handler = lambdaHandler(
  createChunkApp({
    config,
    clients,
    jobs: new ImportJobs(clients.dynamo, config.tables.control),
    logger: o.logger,
    metrics: o.metrics,
  }),
  o,
  "Records[0].messageId",
);
