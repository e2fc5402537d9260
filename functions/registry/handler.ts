/** Lambda entry point of the schema registry API: configuration from the environment, the app, Middy around it. */
import { awsSettingsFromEnv, clientBase, dynamoClient } from "../core/aws-clients.ts";
import { createGlueClient } from "../core/catalog/glue-client.ts";
import { lambdaHandler, observability, tracedClients } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createRegistryApp } from "./app.ts";

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const settings = awsSettingsFromEnv(process.env);
const o = await observability({ service: "sluice-registry", app: config.app, env: process.env });
const { dynamo, glue } = tracedClients(o.tracer, {
  dynamo: dynamoClient(clientBase(settings)),
  glue: createGlueClient(settings),
});

export const handler = lambdaHandler(
  createRegistryApp({ config, clients: { dynamo }, glue, logger: o.logger }),
  o,
  "requestContext.requestId",
);
