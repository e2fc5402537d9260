/**
 * The API key routes: create (the secret in this answer only), list (never a secret or hash),
 * revoke. Revoking a revoked key is 200 with `"revoked": false`, so a retried revocation is safe
 * and says it changed nothing; an unknown id is 404.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { ApiKeyStore } from "../core/auth/index.ts";
import { parseNewApiKey } from "../core/auth/key-request.ts";
import { SluiceError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

export interface KeyRouteDeps {
  readonly keys: ApiKeyStore;
  readonly streams: ReadonlySet<string>;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

const KEY_ID = /^key_[0-9a-f]{12}$/;

export async function keyRoute(
  routeKey: string,
  event: APIGatewayProxyEventV2,
  body: Buffer | string,
  deps: KeyRouteDeps,
  log: Logger,
): Promise<Answer | undefined> {
  switch (routeKey) {
    case "POST /v1/keys": {
      const created = await deps.keys.create(parseNewApiKey(body, deps.streams));
      log.info("api key created", { keyId: created.keyId, role: created.view.role });
      return { status: 201, body: { ...created.view, key: created.key } };
    }
    case "GET /v1/keys":
      return { status: 200, body: { keys: await deps.keys.list() } };
    case "DELETE /v1/keys/{id}": {
      const id = event.pathParameters?.id ?? "";
      if (!KEY_ID.test(id)) throw notFound(id);
      const result = await deps.keys.revoke(id);
      if (result.outcome === "not-found") throw notFound(id);
      log.info("api key revoked", { keyId: id, outcome: result.outcome });
      return { status: 200, body: { ...result.key, revoked: result.outcome === "revoked" } };
    }
    default:
      return undefined;
  }
}

const notFound = (id: string) =>
  new SluiceError("NOT_FOUND", `no API key has id ${JSON.stringify(id.slice(0, 64))}`, 404, "/id");
