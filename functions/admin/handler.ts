/** Lambda entry point of the admin API: configuration from the environment, the app, Middy around it. */
import { awsSettingsFromEnv, clientBase, cloudWatchClient, dynamoClient } from "../core/aws-clients.ts";
import { lambdaHandler, observability, tracedClients } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createAdminApp } from "./app.ts";

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const settings = awsSettingsFromEnv(process.env);
const o = await observability({ service: "sluice-admin", app: config.app, env: process.env });
const base = clientBase(settings);
const { dynamo, cloudWatch } = tracedClients(o.tracer, {
  dynamo: dynamoClient(base),
  cloudWatch: cloudWatchClient(base),
});

export const handler = lambdaHandler(
  createAdminApp({ config, clients: { dynamo, cloudWatch }, logger: o.logger }),
  o,
  "requestContext.requestId",
);
