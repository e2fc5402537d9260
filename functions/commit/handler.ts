/** Lambda entry point of the Iceberg committer (scheduled, reserved concurrency 1): the app, Middy around it. */
import { awsSettingsFromEnv, clientBase, dynamoClient, s3Client } from "../core/aws-clients.ts";
import { createGlueClient } from "../core/catalog/glue-client.ts";
import { lambdaHandler, observability, tracedClients } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createCommitApp } from "./app.ts";
import { createMaintenance, type MaintenanceEvent, maintainTable } from "./maintain.ts";

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const settings = awsSettingsFromEnv(process.env);
const o = await observability({ service: "sluice-commit", app: config.app, env: process.env });
const base = clientBase(settings);
const { dynamo, s3, glue } = tracedClients(o.tracer, {
  dynamo: dynamoClient(base),
  s3: s3Client(base),
  glue: createGlueClient(settings),
});
// One function per Iceberg sink (SLUICE_SINK): one committer per table.
const sink = process.env.SLUICE_SINK;
const commit = createCommitApp({
  config,
  clients: { dynamo, s3 },
  glue,
  logger: o.logger,
  ...(sink ? { sink } : {}),
});

const maintenance = createMaintenance({ config, clients: { dynamo, s3 }, glue });

// The commit schedule sends the scheduled event; the hourly compaction and daily maintenance rules
// send { maintain }. All run here, so reserved concurrency 1 keeps them from overlapping on the table.
export const handler = lambdaHandler(
  async (event: Partial<MaintenanceEvent>) =>
    event.maintain
      ? maintainTable(maintenance, sink ?? maintenance.sinks[0]!, event.maintain, o.logger)
      : commit(),
  o,
  "id",
);
