/** What both read handlers (the API's query function and the tail) build from their environment, once per container. */
import {
  awsSettingsFromEnv,
  clientBase,
  dynamoClient,
  kinesisClient,
  kmsClient,
  s3Client,
} from "../core/aws-clients.ts";
import { createGlueClient } from "../core/catalog/glue-client.ts";
import { observability, tracedClients } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, type ReadConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import type { QueryAppDeps } from "./app.ts";

export async function readHandlerDeps(service: string) {
  const config = parseRuntimeConfig<ReadConfig>(process.env[RUNTIME_CONFIG_ENV]);
  const o = await observability({ service, app: config.app, env: process.env });
  const settings = awsSettingsFromEnv(process.env);
  const base = clientBase(settings);
  // Only a lake that is an Iceberg table needs the catalog (its snapshot's files and progress).
  const icebergLakes = Object.values(config.pipelines).some((p) => p.sink.table !== undefined);
  const deps: QueryAppDeps = {
    config,
    clients: tracedClients(o.tracer, {
      s3: s3Client(base),
      dynamo: dynamoClient(base),
      kinesis: kinesisClient(base),
      kms: kmsClient(base),
    }),
    logger: o.logger,
    ...(icebergLakes ? { glue: createGlueClient(settings) } : {}),
  };
  return { o, deps };
}
