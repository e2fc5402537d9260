/** Lambda entry point of the import API: configuration from the environment, the app, Middy around it. */
import { awsSettingsFromEnv, clientBase, dynamoClient, s3Client, sqsClient } from "../core/aws-clients.ts";
import { ImportJobs } from "../core/imports/jobs.ts";
import { lambdaHandler, observability, tracedClients } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createImportsApp } from "./app.ts";

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const o = await observability({ service: "sluice-imports", app: config.app, env: process.env });
const base = clientBase(awsSettingsFromEnv(process.env));
const clients = tracedClients(o.tracer, {
  dynamo: dynamoClient(base),
  s3: s3Client(base),
  sqs: sqsClient(base),
});

export const handler = lambdaHandler(
  createImportsApp({
    config,
    clients,
    jobs: new ImportJobs(clients.dynamo, config.tables.control),
    logger: o.logger,
  }),
  o,
  "requestContext.requestId",
);
