/**
 * The HTTP API's native JWT authorizer: on every route but the public ones when JWT is the only
 * scheme; absent when API keys are on (alone or beside JWT), where the functions verify both.
 * Each variant is cdk-nag clean and passes cfn-lint.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { API_ROUTES, isPublicRoute, PUBLIC_ROUTES, TAIL_ROUTE } from "../../functions/ingest/routes.ts";
import { cfnLint, unacceptable } from "./cfn-lint.ts";
import { manifestFixture, resourcesOf, type Synthesized, synthesize } from "./synth.ts";
import { baseManifest, type RawManifest, validate, writeManifest } from "./variants.ts";

const JWT = {
  jwksUrl: "https://id.example.com/.well-known/jwks.json",
  issuer: "https://id.example.com/",
  audience: ["sluice-api", "sluice-cli"],
};

function synth(auth: Record<string, unknown>): Synthesized {
  const raw: RawManifest = { ...baseManifest(), auth };
  assert.deepEqual(validate(raw, { stage: "prod" }).issues, []);
  return synthesize(manifestFixture(writeManifest(raw), { stage: "prod" }), { stage: "prod", region: null });
}

/** Route key -> [AuthorizationType, authorizer logical id]. */
function routeAuth(s: Synthesized): Map<string, [unknown, unknown]> {
  return new Map(
    resourcesOf(s, "AWS::ApiGatewayV2::Route").map(([, r]) => [
      r.RouteKey as string,
      [r.AuthorizationType, (r.AuthorizerId as { Ref?: string } | undefined)?.Ref],
    ]),
  );
}

// The tail is served by its function URL (the function verifies tokens itself), not the API.
const deployed = API_ROUTES.filter((r) => r !== TAIL_ROUTE);

describe("JWT as the only scheme: the gateway verifies tokens", () => {
  let s: Synthesized;
  before(() => {
    s = synth({ apiKeys: false, jwt: JWT });
  });

  test("one JWT authorizer with the manifest's issuer and audiences, reading the Authorization header", () => {
    const authorizers = resourcesOf(s, "AWS::ApiGatewayV2::Authorizer");
    assert.equal(authorizers.length, 1);
    const [, a] = authorizers[0]!;
    assert.equal(a.AuthorizerType, "JWT");
    assert.deepEqual(a.IdentitySource, ["$request.header.Authorization"]);
    assert.deepEqual(a.JwtConfiguration, { Issuer: JWT.issuer, Audience: JWT.audience });
  });

  test("every route but health and the API description requires it", () => {
    const authorizerId = resourcesOf(s, "AWS::ApiGatewayV2::Authorizer")[0]![0];
    const routes = routeAuth(s);
    assert.deepEqual([...routes.keys()].sort(), [...deployed].sort());
    for (const route of deployed) {
      const expected = isPublicRoute(route) ? ["NONE", undefined] : ["JWT", authorizerId];
      assert.deepEqual(routes.get(route), expected, route);
    }
    assert.deepEqual(
      deployed.filter((r) => routes.get(r)![0] === "NONE"),
      [...PUBLIC_ROUTES],
    );
  });

  test("cdk-nag's open-route finding is acknowledged on the public routes only", () => {
    const apig4 = s.suppressions.filter((x) => x.ruleName === "AwsSolutions-APIG4");
    const paths = apig4.flatMap((x) => x.violatingConstructs.map((c) => c.constructPath)).sort();
    assert.equal(paths.length, PUBLIC_ROUTES.length, paths.join("\n"));
    for (const p of paths) assert.match(p, /GET--v1--(health|openapi\.json)/);
    assert.deepEqual(s.violations, []);
  });
});

describe("API keys on (alone or beside JWT): the functions verify every credential", () => {
  const variants: Record<string, Synthesized> = {};
  before(() => {
    variants.mixed = synth({ apiKeys: true, jwt: JWT });
    variants.keys = synth({ apiKeys: true });
  });

  test("no gateway authorizer, so API-key callers reach the function, which refuses bad credentials itself", () => {
    for (const [name, s] of Object.entries(variants)) {
      assert.equal(resourcesOf(s, "AWS::ApiGatewayV2::Authorizer").length, 0, name);
      for (const [route, [type]] of routeAuth(s)) assert.equal(type, "NONE", `${name} ${route}`);
    }
  });

  test("the three variants pass cfn-lint", () => {
    const jwtOnly = synth({ apiKeys: false, jwt: JWT });
    const findings = cfnLint([jwtOnly, variants.mixed!, variants.keys!].map((s) => s.templatePath));
    assert.deepEqual(unacceptable(findings), []);
  });
});

describe("a deployment with the gateway authorizer", () => {
  test("needs an https issuer: API Gateway fetches its OpenID configuration from there", () => {
    const raw: RawManifest = {
      ...baseManifest(),
      auth: { apiKeys: false, jwt: { ...JWT, issuer: "http://localhost:9000/" } },
    };
    const issues = validate(raw, { stage: "prod" }).issues.map((i) => `${i.code} ${i.path}`);
    assert.deepEqual(issues, ["AUTH_GATEWAY_JWT auth.jwt.issuer"]);
    // With API keys on, the function verifies tokens against jwksUrl, and the issuer is only compared.
    const mixed: RawManifest = {
      ...baseManifest(),
      auth: { apiKeys: true, jwt: { ...JWT, issuer: "http://localhost:9000/" } },
    };
    assert.deepEqual(validate(mixed, { stage: "prod" }).issues, []);
  });
});
