/**
 * Claims verified by API Gateway's JWT authorizer (JWT as the only scheme): the functions build
 * the principal from them, enforcing roles and streams as for a token they verified themselves,
 * and ignore them whenever the manifest leaves verification to the functions.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import {
  authenticate,
  createAuth,
  gatewayClaimsOf,
  gatewayVerifiesJwt,
} from "../../functions/core/auth/index.ts";
import { createAwsClients } from "../../functions/core/aws-clients.ts";
import { SluiceError } from "../../functions/core/errors.ts";
import { httpApp, json } from "../../functions/core/http-app.ts";
import { createLogger } from "../../functions/core/logger.ts";
import type { AuthSettings, JwtSettings } from "../../functions/core/manifest/types.ts";

const JWT: JwtSettings = {
  // Never fetched in these tests: the gateway verified the tokens.
  jwksUrl: "http://127.0.0.1:9/jwks",
  issuer: "https://idp.test/",
  audience: "sluice",
  leewaySeconds: 60,
  rolesClaim: "roles",
  streamsClaim: "sluice_streams",
};
const JWT_ONLY: AuthSettings = { apiKeys: false, jwt: JWT };
const MIXED: AuthSettings = { apiKeys: true, jwt: JWT };

function eventWith(
  claims: Record<string, unknown> | undefined,
  routeKey = "POST /v1/streams/{stream}/records",
) {
  return {
    routeKey,
    rawPath: "/v1/streams/orders/records",
    headers: {},
    requestContext: {
      requestId: "r1",
      http: { method: "POST" },
      ...(claims === undefined ? {} : { authorizer: { jwt: { claims, scopes: null } } }),
    },
  } as unknown as APIGatewayProxyEventV2;
}

async function refusal(attempt: Promise<unknown>): Promise<SluiceError> {
  let caught: unknown;
  await assert.rejects(attempt, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof SluiceError);
  return caught;
}

describe("gateway-verified JWT claims", () => {
  test("the gateway verifies only when JWT is the only scheme", () => {
    assert.equal(gatewayVerifiesJwt(JWT_ONLY), true);
    assert.equal(gatewayVerifiesJwt(MIXED), false);
    assert.equal(gatewayVerifiesJwt({ apiKeys: true }), false);
  });

  test("list claims passed as text ([a b] or JSON) become lists again; other values stay", () => {
    const claims = gatewayClaimsOf(
      eventWith({
        sub: "svc",
        roles: "[writer reader]",
        sluice_streams: '["orders","shop.carts"]',
        exp: "1700000000",
      }),
    );
    assert.deepEqual(claims, {
      sub: "svc",
      roles: ["writer", "reader"],
      sluice_streams: ["orders", "shop.carts"],
      exp: "1700000000",
    });
    assert.equal(gatewayClaimsOf(eventWith(undefined)), undefined);
  });

  test("roles and streams come from the verified claims; a scope grants a role too", async () => {
    const p = await authenticate(
      {},
      { settings: JWT_ONLY },
      gatewayClaimsOf(eventWith({ sub: "svc-checkout", roles: "[writer]", sluice_streams: "[orders]" })),
    );
    assert.deepEqual(p, {
      id: "svc-checkout",
      kind: "jwt",
      role: "writer",
      roles: ["writer"],
      streams: ["orders"],
    });
    const scoped = await authenticate(
      {},
      { settings: JWT_ONLY },
      { sub: "ops", scope: "openid sluice:operator" },
    );
    assert.equal(scoped.role, "operator");
    assert.deepEqual(scoped.streams, []);
  });

  test("verified claims without a Sluice role are 403, without a subject 401", async () => {
    const none = await refusal(authenticate({}, { settings: JWT_ONLY }, { sub: "svc", roles: "[viewer]" }));
    assert.equal(none.status, 403);
    assert.match(none.message, /grants no Sluice role/);
    const anonymous = await refusal(authenticate({}, { settings: JWT_ONLY }, { roles: "[admin]" }));
    assert.equal(anonymous.status, 401);
  });

  test("with API keys on, claims in the event are ignored: the credential must be in the headers", async () => {
    const err = await refusal(authenticate({}, { settings: MIXED }, { sub: "x", roles: "[admin]" }));
    assert.equal(err.status, 401);
    assert.equal(err.code, "UNAUTHENTICATED");
  });

  test("every function's HTTP wrapper enforces the stream grant from the authorizer's claims", async () => {
    // API keys are off, so the client is never used.
    const { dynamo } = createAwsClients({ endpoint: "http://127.0.0.1:9" });
    const auth = createAuth(JWT_ONLY, { dynamo, apiKeysTable: "unused" });
    const app = httpApp({
      logger: createLogger("test", "error"),
      auth,
      actionFor: (event) => ({ kind: "write", stream: event.pathParameters?.stream ?? "" }),
      route: async () => json(202, { accepted: true }),
    });
    const claims = { sub: "svc-checkout", roles: "[writer]", sluice_streams: "[orders]" };
    const to = (stream: string, c: Record<string, unknown> | undefined) =>
      app({ ...eventWith(c), pathParameters: { stream } });
    assert.equal((await to("orders", claims)).statusCode, 202);
    const other = await to("payments", claims);
    assert.equal(other.statusCode, 403);
    assert.match(String(other.body), /may not write to stream \\"payments\\"/);
    // No authorizer ran and no credential was sent: refused, as on a route without the authorizer.
    assert.equal((await to("orders", undefined)).statusCode, 401);
  });
});
