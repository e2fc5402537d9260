/**
 * The read API (`GET /v1/streams/{stream}/records`, and `/tail` as server-sent events) as its
 * own function: reading Parquet weighs nothing on ingest's bundle or grants, and the tail needs
 * response streaming, which a Lambda function URL gives and API Gateway does not.
 */
import type { GlueClient } from "@aws-sdk/client-glue";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type Action, type Auth, createAuth } from "../core/auth/index.ts";
import type { AwsClients } from "../core/aws-clients.ts";
import { CheckpointStore } from "../core/checkpoints.ts";
import { SluiceError } from "../core/errors.ts";
import { type HttpApp, header, httpApp, json, noRoute } from "../core/http-app.ts";
import { IdempotencyStore } from "../core/idempotency.ts";
import type { Logger } from "../core/logger.ts";
import { type RecordsDeps, readRecords } from "../core/query/records.ts";
import { parseRecordsRequest } from "../core/query/request.ts";
import { ARROW_STREAM, arrowStream, NDJSON, ndjson, wantsArrow } from "../core/query/results.ts";
import { parseFilesLimit, streamFiles } from "../core/query/stream-files.ts";
import { DEFAULT_LIMITS, type ReadCounters, type ReadLimits } from "../core/query/types.ts";
import type { ReadConfig } from "../core/runtime-config.ts";

/** The clients the query function uses: its bundle leaves out the others. */
export type QueryClients = Pick<AwsClients, "s3" | "dynamo" | "kinesis" | "kms">;

export interface QueryAppDeps {
  /** The read slice (`readConfig`); a full runtime config also fits. */
  readonly config: ReadConfig;
  readonly clients: QueryClients;
  /** The catalog, for streams whose lake is an Iceberg table. */
  readonly glue?: GlueClient;
  readonly logger: Logger;
  /** @default DEFAULT_LIMITS (512 MiB scanned, 25 s) */
  readonly limits?: ReadLimits;
}

export function actionFor(event: APIGatewayProxyEventV2): Action {
  return { kind: "read", stream: event.pathParameters?.stream ?? "" };
}

/** What a read cost, as response headers (tests and operators read them). */
export function counterHeaders(c: ReadCounters): Record<string, string> {
  return {
    "sluice-files-listed": String(c.filesListed),
    "sluice-files-read": String(c.filesRead),
    "sluice-row-groups-total": String(c.rowGroupsTotal),
    "sluice-row-groups-read": String(c.rowGroupsRead),
    "sluice-bytes-scanned": String(c.bytesScanned),
  };
}

export interface QueryCore {
  readonly records: RecordsDeps;
  readonly auth: Auth;
}

export function queryCore(deps: QueryAppDeps): QueryCore {
  const { config, clients } = deps;
  return {
    records: {
      config,
      s3: clients.s3,
      checkpoints: new CheckpointStore(clients.dynamo, config.tables.checkpoints),
      idempotency: new IdempotencyStore(clients.dynamo, config.tables.idempotency),
      limits: deps.limits ?? DEFAULT_LIMITS,
      ...(deps.glue ? { glue: deps.glue } : {}),
    },
    auth: createAuth(config.auth, { dynamo: clients.dynamo, apiKeysTable: config.tables.apiKeys }),
  };
}

export function createQueryApp(deps: QueryAppDeps, core: QueryCore = queryCore(deps)): HttpApp {
  return httpApp({
    logger: deps.logger,
    auth: core.auth,
    actionFor,
    route: async (event, log) => {
      if (event.routeKey === "GET /v1/streams/{stream}/files") {
        const name = event.pathParameters?.stream ?? "";
        if (!core.records.config.streams[name]) {
          throw new SluiceError(
            "UNKNOWN_STREAM",
            `stream ${name.slice(0, 128)} does not exist`,
            404,
            "/stream",
          );
        }
        const limit = parseFilesLimit(event.queryStringParameters?.limit);
        return json(200, await streamFiles(core.records.s3, core.records.config, name, limit));
      }
      if (event.routeKey !== "GET /v1/streams/{stream}/records") throw noRoute(event);
      const name = event.pathParameters?.stream ?? "";
      const stream = core.records.config.streams[name];
      const req = parseRecordsRequest(
        name,
        event.queryStringParameters ?? {},
        Date.now(),
        (stream?.maxFutureSkewSeconds ?? 0) * 1000,
      );
      const page = await readRecords(core.records, name, req);
      log.info("records read", { stream: name, rows: page.rows.length, ...page.counters });
      const headers = {
        ...counterHeaders(page.counters),
        ...(page.cursor ? { "sluice-next-cursor": page.cursor } : {}),
      };
      if (wantsArrow(header(event, "accept")))
        return {
          statusCode: 200,
          headers: { "content-type": ARROW_STREAM, ...headers },
          body: Buffer.from(arrowStream(page.rows)).toString("base64"),
          isBase64Encoded: true,
        };
      return { statusCode: 200, headers: { "content-type": NDJSON, ...headers }, body: ndjson(page.rows) };
    },
  });
}
