/** Lambda entry point of the read API behind API Gateway: configuration from the environment, the app, Middy around it. */
import {
  awsSettingsFromEnv,
  clientBase,
  dynamoClient,
  kinesisClient,
  kmsClient,
  s3Client,
} from "../core/aws-clients.ts";
import { createGlueClient } from "../core/catalog/glue-client.ts";
import { lambdaHandler, observability, tracedClients } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, type ReadConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createQueryApp } from "./app.ts";

const config = parseRuntimeConfig<ReadConfig>(process.env[RUNTIME_CONFIG_ENV]);
const o = await observability({ service: "sluice-query", app: config.app, env: process.env });
const settings = awsSettingsFromEnv(process.env);
const base = clientBase(settings);
// Only a lake that is an Iceberg table needs the catalog (its snapshot's files).
const icebergLakes = Object.values(config.pipelines).some((p) => p.sink.table !== undefined);

export const handler = lambdaHandler(
  createQueryApp({
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
