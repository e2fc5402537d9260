/**
 * The admin API (`/v1/keys...`) as one function of an API Gateway v2 event: its own Lambda, so only
 * it may write the API keys table (ingest and the registry only read a key by its hash).
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type Action, createAuth } from "../core/auth/index.ts";
import type { AwsClients } from "../core/aws-clients.ts";
import { SluiceError } from "../core/errors.ts";
import { bodyOf, type HttpApp, httpApp, json, noRoute } from "../core/http-app.ts";
import type { Logger } from "../core/logger.ts";
import type { RuntimeConfig } from "../core/runtime-config.ts";
import { keyRoute } from "./routes.ts";

export interface AdminAppDeps {
  readonly config: RuntimeConfig;
  readonly clients: Pick<AwsClients, "dynamo">;
  readonly logger: Logger;
}

const ADMIN: Action = { kind: "admin" };

export function createAdminApp(deps: AdminAppDeps): HttpApp {
  const auth = createAuth(deps.config.auth, {
    dynamo: deps.clients.dynamo,
    apiKeysTable: deps.config.tables.apiKeys,
  });
  const keys = auth.apiKeys;
  const streams = new Set(Object.keys(deps.config.streams));
  return httpApp({
    logger: deps.logger,
    auth,
    actionFor: (_event: APIGatewayProxyEventV2) => ADMIN,
    route: async (event, log) => {
      if (keys === undefined) {
        throw new SluiceError("NOT_FOUND", "API keys are off in this manifest (auth.apiKeys: false)", 404);
      }
      const answer = await keyRoute(event.routeKey, event, bodyOf(event), { keys, streams }, log);
      if (!answer) throw noRoute(event);
      return json(answer.status, answer.body);
    },
  });
}
