/**
 * The schema registry's API (`/v1/schemas...`) as one function of an API Gateway v2 event: its own
 * Lambda, so registering (the compatibility check, pattern safety, the Glue sync) weighs nothing
 * on ingest's bundle, cold start or grants. The local gateway serves it beside ingest.
 */
import type { GlueClient } from "@aws-sdk/client-glue";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type Action, createAuth } from "../core/auth/index.ts";
import type { AwsClients } from "../core/aws-clients.ts";
import { bodyOf, type HttpApp, httpApp, json, noRoute } from "../core/http-app.ts";
import type { Logger } from "../core/logger.ts";
import type { RuntimeConfig } from "../core/runtime-config.ts";
import { SchemaRegistry } from "../core/schema-registry.ts";
import { schemaRoute } from "./routes.ts";

export interface RegistryAppDeps {
  readonly config: RuntimeConfig;
  readonly clients: Pick<AwsClients, "dynamo">;
  readonly glue: GlueClient;
  readonly logger: Logger;
}

function actionFor(event: APIGatewayProxyEventV2): Action {
  switch (event.routeKey) {
    case "POST /v1/schemas":
    case "PUT /v1/schemas/{name}/config":
      return { kind: "schema:write" };
    default:
      // Listing, reading versions and modes, and checking a candidate change nothing.
      return { kind: "schema:read" };
  }
}

export function createRegistryApp(deps: RegistryAppDeps): HttpApp {
  const registry = new SchemaRegistry(deps.clients.dynamo, deps.config.tables.schemas);
  const routeDeps = { registry, glue: deps.glue, catalog: deps.config.catalog };
  const auth = createAuth(deps.config.auth, {
    dynamo: deps.clients.dynamo,
    apiKeysTable: deps.config.tables.apiKeys,
  });
  return httpApp({
    logger: deps.logger,
    auth,
    actionFor,
    route: async (event, log) => {
      const answer = await schemaRoute(event.routeKey, event, bodyOf(event), routeDeps, log);
      if (!answer) throw noRoute(event);
      return json(answer.status, answer.body);
    },
  });
}
