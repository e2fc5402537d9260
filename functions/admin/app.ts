/**
 * The admin API (`/v1/keys...`, `/v1/streams/{stream}/stats`) as one function of an API Gateway v2
 * event: its own Lambda, so only it may write the API keys table (ingest and the registry only
 * read a key by its hash) and only it reads CloudWatch.
 */

import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type Action, createAuth } from "../core/auth/index.ts";
import type { AwsClients } from "../core/aws-clients.ts";
import { SluiceError } from "../core/errors.ts";
import { bodyOf, type HttpApp, httpApp, json, noRoute } from "../core/http-app.ts";
import type { Logger } from "../core/logger.ts";
import type { RuntimeConfig } from "../core/runtime-config.ts";
import { parseMinutes, streamStats } from "../core/stats/stream-stats.ts";
import { keyRoute } from "./routes.ts";

export interface AdminAppDeps {
  readonly config: RuntimeConfig;
  readonly clients: Pick<AwsClients, "dynamo"> & { readonly cloudWatch: CloudWatchClient };
  readonly logger: Logger;
  /** @default Date.now */
  readonly now?: () => number;
}

const ADMIN: Action = { kind: "admin" };
const STATS = "GET /v1/streams/{stream}/stats";

/** Statistics are a read of the stream (reader and up); keys are the admins'. */
function actionFor(event: APIGatewayProxyEventV2): Action {
  return event.routeKey === STATS ? { kind: "read", stream: event.pathParameters?.stream ?? "" } : ADMIN;
}

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
    actionFor,
    route: async (event, log) => {
      if (event.routeKey === STATS) {
        const name = event.pathParameters?.stream ?? "";
        if (!streams.has(name)) {
          throw new SluiceError(
            "UNKNOWN_STREAM",
            `stream ${name.slice(0, 128)} does not exist`,
            404,
            "/stream",
          );
        }
        const minutes = parseMinutes(event.queryStringParameters?.minutes);
        const stats = await streamStats(
          deps.clients.cloudWatch,
          deps.config.app,
          name,
          minutes,
          (deps.now ?? Date.now)(),
        );
        return json(200, stats);
      }
      if (keys === undefined) {
        throw new SluiceError("NOT_FOUND", "API keys are off in this manifest (auth.apiKeys: false)", 404);
      }
      const answer = await keyRoute(event.routeKey, event, bodyOf(event), { keys, streams }, log);
      if (!answer) throw noRoute(event);
      return json(answer.status, answer.body);
    },
  });
}
