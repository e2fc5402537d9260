import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  type CryptoKey,
  exportJWK,
  type GenerateKeyPairResult,
  generateKeyPair,
  type JWTPayload,
  SignJWT,
} from "jose";
import {
  type Action,
  ANONYMOUS,
  type ApiKeyLookup,
  authenticate,
  authorize,
  createAuth,
  hashApiKey,
  isApiKeyShaped,
  JwtVerifier,
  type Principal,
  permits,
  type RequestHeaders,
  ROLES,
  type Role,
} from "../../functions/core/auth/index.ts";
import { createAwsClients } from "../../functions/core/aws-clients.ts";
import { SluiceError } from "../../functions/core/errors.ts";
import type { AuthSettings, JwtSettings } from "../../functions/core/manifest/types.ts";

const ISSUER = "https://idp.test/";
const AUDIENCE = "sluice";

// ---------------------------------------------------------------------------------------------
// Helpers

function newKey(): string {
  return `sk_${randomBytes(32).toString("base64url")}`;
}

/** Asserts the refusal and that nothing of `secret` leaks into what a client or a log sees. */
async function refused(
  attempt: Promise<unknown>,
  expected: { status: number; code: string; message: RegExp },
  secret?: string,
): Promise<SluiceError> {
  let caught: unknown;
  await assert.rejects(attempt, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof SluiceError, `expected a SluiceError, got ${String(caught)}`);
  assert.equal(caught.status, expected.status, caught.message);
  assert.equal(caught.code, expected.code);
  assert.match(caught.message, expected.message);
  assert.equal(caught.cause, undefined, "no underlying error (which may carry the token) is attached");
  if (expected.status === 401)
    assert.match(caught.headers["www-authenticate"] ?? "", /^Bearer realm="sluice"/);
  if (secret !== undefined) {
    const visible = JSON.stringify({
      message: caught.message,
      headers: caught.headers,
      detail: caught.toDetail(),
    });
    for (const part of [secret, ...secret.split(".")].filter((p) => p.length >= 8)) {
      assert.ok(!visible.includes(part), "the credential must not appear in the error");
    }
  }
  return caught;
}

/** An API key store holding the given keys, counting lookups. */
function fakeStore(keys: Record<string, Principal>): ApiKeyLookup & { lookups: number } {
  return {
    lookups: 0,
    async lookup(key) {
      this.lookups++;
      return keys[key];
    },
  };
}

const writerKey = newKey();
const writer: Principal = {
  id: "key_writer",
  kind: "api-key",
  role: "writer",
  roles: ["writer"],
  streams: ["orders"],
};
const keysOnly: AuthSettings = { apiKeys: true };

// ---------------------------------------------------------------------------------------------

describe("authorize: roles and streams", () => {
  const streams = ["orders"];
  const principal = (role: Role, s: Principal["streams"] = streams): Principal => ({
    id: `p-${role}`,
    kind: "api-key",
    role,
    roles: [role],
    streams: s,
  });
  const actions: Record<string, Action> = {
    "write own stream": { kind: "write", stream: "orders" },
    "write other stream": { kind: "write", stream: "payments" },
    "read own stream": { kind: "read", stream: "orders" },
    "read other stream": { kind: "read", stream: "payments" },
    "list streams": { kind: "read" },
    "read schemas": { kind: "schema:read" },
    "change schemas": { kind: "schema:write" },
    public: { kind: "public" },
  };
  const Y = true;
  const N = false;
  // Columns in the order of `actions`.
  const matrix: Record<Role, readonly boolean[]> = {
    admin: [Y, Y, Y, Y, Y, Y, Y, Y],
    operator: [Y, Y, Y, Y, Y, Y, N, Y],
    schema_admin: [N, N, Y, Y, Y, Y, Y, Y],
    writer: [Y, N, Y, N, Y, Y, N, Y],
    reader: [N, N, Y, N, Y, Y, N, Y],
  };

  for (const role of ROLES) {
    Object.entries(actions).forEach(([name, action], i) => {
      const allowed = matrix[role][i]!;
      test(`${role} ${allowed ? "may" : "may not"} ${name}`, () => {
        assert.equal(permits(principal(role), action), allowed);
        if (allowed) {
          authorize(principal(role), action);
        } else {
          assert.throws(
            () => authorize(principal(role), action),
            (err) => err instanceof SluiceError && err.code === "FORBIDDEN" && err.status === 403,
          );
        }
      });
    });
  }

  test('a writer with streams "*" may write and read every stream but not change schemas', () => {
    const p = principal("writer", "*");
    assert.ok(permits(p, { kind: "write", stream: "anything" }));
    assert.ok(permits(p, { kind: "read", stream: "anything" }));
    assert.ok(!permits(p, { kind: "schema:write" }));
  });

  test("a writer with no streams may write nowhere", () => {
    assert.ok(!permits(principal("writer", []), { kind: "write", stream: "orders" }));
  });

  test("a principal with several roles may do what any of them allows", () => {
    const p: Principal = {
      id: "p",
      kind: "jwt",
      role: "schema_admin",
      roles: ["schema_admin", "writer"],
      streams: ["orders"],
    };
    assert.ok(permits(p, { kind: "schema:write" }));
    assert.ok(permits(p, { kind: "write", stream: "orders" }));
    assert.ok(!permits(p, { kind: "write", stream: "payments" }));
  });

  test("the refusal names the role and the stream", () => {
    assert.throws(() => authorize(principal("writer"), { kind: "write", stream: "payments" }), {
      code: "FORBIDDEN",
      message: 'role writer may not write to stream "payments"',
    });
    assert.throws(() => authorize(principal("operator"), { kind: "schema:write" }), {
      message: /needs schema_admin or admin/,
    });
  });
});

describe("API key format", () => {
  test("a key is sk_ and 43 base64url characters; its table key is the hex SHA-256", () => {
    const key = newKey();
    assert.ok(isApiKeyShaped(key));
    assert.equal(hashApiKey(key), createHash("sha256").update(key).digest("hex"));
    assert.match(hashApiKey(key), /^[0-9a-f]{64}$/);
    for (const bad of ["sk_", "sk_short", `${key}x`, `pk_${key.slice(3)}`, `sk_${"+".repeat(43)}`]) {
      assert.ok(!isApiKeyShaped(bad), bad);
    }
  });
});

describe("authenticate: headers and API keys", () => {
  const store = fakeStore({ [writerKey]: writer });
  const deps = { settings: keysOnly, apiKeys: store };
  const auth = (headers: RequestHeaders) => authenticate(headers, deps);

  test("Authorization: Bearer sk_... is an API key", async () => {
    assert.deepEqual(await auth({ authorization: `Bearer ${writerKey}` }), writer);
  });

  test("x-api-key is an API key", async () => {
    assert.deepEqual(await auth({ "x-api-key": writerKey }), writer);
  });

  test("the Bearer scheme is case-insensitive and surrounding spaces are ignored", async () => {
    for (const scheme of ["bearer", "BEARER", "BeArEr"]) {
      assert.deepEqual(await auth({ authorization: `${scheme}  ${writerKey} ` }), writer);
    }
  });

  test("header names are found in any case", async () => {
    assert.deepEqual(await auth({ Authorization: `Bearer ${writerKey}` }), writer);
    assert.deepEqual(await auth({ "X-Api-Key": writerKey }), writer);
  });

  test("no credentials: 401 with a Bearer challenge and no error code", async () => {
    for (const headers of [
      undefined,
      null,
      {},
      { "x-api-key": "  " },
      { "content-type": "application/json" },
    ]) {
      const err = await refused(auth(headers), {
        status: 401,
        code: "UNAUTHENTICATED",
        message: /^missing credentials/,
      });
      assert.equal(err.headers["www-authenticate"], 'Bearer realm="sluice"');
    }
  });

  test("a malformed Authorization header is 401 and not echoed", async () => {
    for (const value of [
      "Bearer",
      "Bearer ",
      `Bearer ${writerKey} extra`,
      `Bearer ${writerKey},Bearer x`,
      'Bearer a"b',
    ]) {
      await refused(
        auth({ authorization: value }),
        { status: 401, code: "UNAUTHENTICATED", message: /^Authorization header malformed/ },
        writerKey,
      );
    }
  });

  test("another Authorization scheme is 401 without repeating it (it may be a pasted key)", async () => {
    await refused(
      auth({ authorization: writerKey }),
      { status: 401, code: "UNAUTHENTICATED", message: /scheme not supported/ },
      writerKey,
    );
    await refused(auth({ authorization: "Basic dXNlcjpwYXNz" }), {
      status: 401,
      code: "UNAUTHENTICATED",
      message: /scheme not supported/,
    });
  });

  test("another Authorization scheme beside x-api-key is left to whoever added it", async () => {
    const headers = { authorization: "AWS4-HMAC-SHA256 Credential=x", "x-api-key": writerKey };
    assert.deepEqual(await auth(headers), writer);
  });

  test("a bearer token and x-api-key together are 401", async () => {
    await refused(
      auth({ authorization: `Bearer ${writerKey}`, "x-api-key": writerKey }),
      { status: 401, code: "UNAUTHENTICATED", message: /not both/ },
      writerKey,
    );
  });

  test("a malformed key is 401 without a table read", async () => {
    const before = store.lookups;
    for (const key of ["sk_short", "not-a-key", `${writerKey}x`]) {
      await refused(
        auth({ "x-api-key": key }),
        { status: 401, code: "UNAUTHENTICATED", message: /^API key malformed$/ },
        key,
      );
    }
    assert.equal(store.lookups, before);
  });

  test("an unknown or disabled key is 401 with an invalid_token challenge", async () => {
    const key = newKey();
    const err = await refused(
      auth({ authorization: `Bearer ${key}` }),
      { status: 401, code: "UNAUTHENTICATED", message: /^API key not recognised or disabled$/ },
      key,
    );
    assert.equal(
      err.headers["www-authenticate"],
      'Bearer realm="sluice", error="invalid_token", error_description="API key not recognised or disabled"',
    );
  });

  test("a key store failure is 503, not 401, and hides the store's error", async () => {
    const failing: ApiKeyLookup = {
      lookup: () => Promise.reject(new Error(`table down while reading ${writerKey}`)),
    };
    const err = await refused(
      authenticate({ "x-api-key": writerKey }, { settings: keysOnly, apiKeys: failing }),
      { status: 503, code: "UNAVAILABLE", message: /cannot check API keys/ },
      writerKey,
    );
    assert.equal(err.headers["retry-after"], "1");
  });

  test("a non-sk_ bearer token is 401 when no JWT issuer is configured", async () => {
    await refused(auth({ authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln" }), {
      status: 401,
      code: "UNAUTHENTICATED",
      message: /JWT bearer tokens are not accepted here/,
    });
  });

  test("API keys are 401 when the manifest turns them off", async () => {
    const settings: AuthSettings = { apiKeys: false, jwt: jwtSettings("http://127.0.0.1:9/jwks") };
    await refused(
      authenticate({ "x-api-key": writerKey }, { settings, apiKeys: store }),
      { status: 401, code: "UNAUTHENTICATED", message: /API keys are not accepted here/ },
      writerKey,
    );
  });

  test("with authentication off every request is the anonymous admin, credentials or not", async () => {
    const settings: AuthSettings = { apiKeys: false };
    assert.equal(await authenticate({}, { settings }), ANONYMOUS);
    assert.equal(await authenticate({ authorization: "garbage" }, { settings }), ANONYMOUS);
    assert.equal(ANONYMOUS.role, "admin");
    assert.equal(ANONYMOUS.kind, "anonymous");
  });
});

// ---------------------------------------------------------------------------------------------
// JWT against a JWKS served on loopback

function jwtSettings(jwksUrl: string, overrides: Partial<JwtSettings> = {}): JwtSettings {
  return {
    jwksUrl,
    issuer: ISSUER,
    audience: AUDIENCE,
    leewaySeconds: 60,
    rolesClaim: "roles",
    streamsClaim: "sluice_streams",
    ...overrides,
  };
}

describe("JWT bearer tokens", () => {
  let server: Server;
  let base: string;
  let jwksFetches = 0;
  let rsa: GenerateKeyPairResult;
  let ec: GenerateKeyPairResult;
  let attacker: GenerateKeyPairResult;
  let verifier: JwtVerifier;

  before(async () => {
    rsa = await generateKeyPair("RS256");
    ec = await generateKeyPair("ES256");
    attacker = await generateKeyPair("RS256");
    const jwks = {
      keys: [
        { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
        { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
      ],
    };
    server = createServer((req, res) => {
      if (req.url === "/jwks") {
        jwksFetches++;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
      } else if (req.url === "/down") {
        res.writeHead(500).end("upstream broke");
      } else if (req.url === "/slow") {
        // Never answers: the verifier's timeout must.
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    verifier = new JwtVerifier(jwtSettings(`${base}/jwks`));
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  /** A token with sensible claims; a claim given as undefined is left out. */
  async function sign(
    claims: Record<string, unknown> = {},
    header: { alg?: string; kid?: string; key?: CryptoKey } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "svc-checkout",
      iat: now,
      exp: now + 300,
      roles: ["writer"],
      sluice_streams: ["orders"],
      ...claims,
    };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    const alg = header.alg ?? "RS256";
    const key = header.key ?? (alg === "ES256" ? ec.privateKey : rsa.privateKey);
    return new SignJWT(payload as JWTPayload)
      .setProtectedHeader({ alg, kid: header.kid ?? (alg === "ES256" ? "ec-1" : "rsa-1"), typ: "JWT" })
      .sign(key);
  }

  const invalid = (message: RegExp) => ({ status: 401, code: "UNAUTHENTICATED", message });
  const now = () => Math.floor(Date.now() / 1000);

  test("a valid RS256 token gives the subject, roles and streams", async () => {
    const principal = await verifier.verify(await sign());
    assert.deepEqual(principal, {
      id: "svc-checkout",
      kind: "jwt",
      role: "writer",
      roles: ["writer"],
      streams: ["orders"],
    });
  });

  test("a valid ES256 token works too", async () => {
    const principal = await verifier.verify(await sign({}, { alg: "ES256" }));
    assert.equal(principal.id, "svc-checkout");
  });

  test("the JWKS is fetched once and then cached", async () => {
    const before = jwksFetches;
    for (let i = 0; i < 5; i++) await verifier.verify(await sign());
    assert.equal(jwksFetches, before);
  });

  test("a token expired beyond the leeway is 401 'token expired'", async () => {
    const token = await sign({ exp: now() - 120, iat: now() - 600 });
    const err = await refused(verifier.verify(token), invalid(/^token expired$/), token);
    assert.match(
      err.headers["www-authenticate"] ?? "",
      /error="invalid_token", error_description="token expired"/,
    );
  });

  test("a token expired within the leeway is accepted", async () => {
    const principal = await verifier.verify(await sign({ exp: now() - 30 }));
    assert.equal(principal.id, "svc-checkout");
  });

  test("the leeway is configurable", async () => {
    const strict = new JwtVerifier(jwtSettings(`${base}/jwks`, { leewaySeconds: 0 }));
    const token = await sign({ exp: now() - 5 });
    await refused(strict.verify(token), invalid(/^token expired$/), token);
  });

  test("a token not valid yet (nbf beyond the leeway) is 401; within it, accepted", async () => {
    const early = await sign({ nbf: now() + 120 });
    await refused(verifier.verify(early), invalid(/^token not valid yet$/), early);
    assert.equal((await verifier.verify(await sign({ nbf: now() + 30 }))).id, "svc-checkout");
  });

  test("a token without exp is 401: it would never expire", async () => {
    const token = await sign({ exp: undefined });
    await refused(verifier.verify(token), invalid(/^token lacks the exp claim$/), token);
  });

  test("a token without sub is 401", async () => {
    const token = await sign({ sub: undefined });
    await refused(verifier.verify(token), invalid(/^token lacks the sub claim$/), token);
  });

  test("a token from another issuer is 401", async () => {
    const token = await sign({ iss: "https://evil.test/" });
    await refused(verifier.verify(token), invalid(/^token issuer not accepted$/), token);
  });

  test("a token for another audience is 401", async () => {
    const token = await sign({ aud: "billing" });
    await refused(verifier.verify(token), invalid(/^token audience not accepted$/), token);
  });

  test("a token naming several audiences is accepted when one is ours", async () => {
    assert.equal((await verifier.verify(await sign({ aud: ["billing", AUDIENCE] }))).id, "svc-checkout");
  });

  test("a list of accepted audiences accepts any of them", async () => {
    const multi = new JwtVerifier(jwtSettings(`${base}/jwks`, { audience: ["sluice", "sluice-admin"] }));
    assert.equal((await multi.verify(await sign({ aud: "sluice-admin" }))).id, "svc-checkout");
  });

  test("a token signed by another key under our kid is 401 'token signature invalid'", async () => {
    const token = await sign({}, { key: attacker.privateKey, kid: "rsa-1" });
    await refused(verifier.verify(token), invalid(/^token signature invalid$/), token);
  });

  test("a token whose claims were edited after signing is 401 'token signature invalid'", async () => {
    const [header, , signature] = (await sign()).split(".");
    const forged = Buffer.from(
      JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "x", exp: now() + 300, roles: ["admin"] }),
    ).toString("base64url");
    const token = `${header}.${forged}.${signature}`;
    await refused(verifier.verify(token), invalid(/^token signature invalid$/), token);
  });

  test("a token with an unknown kid is 401 'token signing key not recognised'", async () => {
    const token = await sign({}, { key: attacker.privateKey, kid: "rotated-away" });
    await refused(verifier.verify(token), invalid(/^token signing key not recognised$/), token);
  });

  test("an HS256 token is 401: shared-secret algorithms are not accepted", async () => {
    const token = await new SignJWT({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "x",
      exp: now() + 300,
      roles: ["admin"],
    })
      .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
      .sign(new TextEncoder().encode("a-shared-secret-of-at-least-32-bytes!!"));
    await refused(verifier.verify(token), invalid(/^token algorithm not accepted$/), token);
  });

  test("an unsigned (alg none) or garbled token is 401 'token malformed'", async () => {
    const payload = Buffer.from(
      JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "x", roles: ["admin"] }),
    ).toString("base64url");
    const header = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");
    for (const token of [`${header}.${payload}.`, "abc.def", "a.b.c", `${"a".repeat(20_000)}.b.c`]) {
      await refused(verifier.verify(token), invalid(/^token (malformed|too large)/), token);
    }
  });

  test("roles come from a roles string, with or without the sluice: prefix, ranked", async () => {
    const principal = await verifier.verify(await sign({ roles: "reader sluice:operator unknown-role" }));
    assert.equal(principal.role, "operator");
    assert.deepEqual(principal.roles, ["operator", "reader"]);
  });

  test("roles come from sluice:<role> scopes (scope string or scp list)", async () => {
    const scoped = await verifier.verify(
      await sign({ roles: undefined, scope: "openid sluice:schema_admin" }),
    );
    assert.deepEqual(scoped.roles, ["schema_admin"]);
    const scp = await verifier.verify(await sign({ roles: undefined, scp: ["profile", "sluice:admin"] }));
    assert.equal(scp.role, "admin");
  });

  test("a scope without the sluice: prefix is not a role", async () => {
    const token = await sign({ roles: undefined, scope: "writer admin" });
    await refused(
      verifier.verify(token),
      { status: 403, code: "FORBIDDEN", message: /no Sluice role/ },
      token,
    );
  });

  test("a valid token with no Sluice role is 403, not 401", async () => {
    const token = await sign({ roles: ["superuser"] });
    await refused(
      verifier.verify(token),
      {
        status: 403,
        code: "FORBIDDEN",
        message: /^token grants no Sluice role: expected one in the roles claim/,
      },
      token,
    );
  });

  test("the roles claim may be a nested path or a namespaced claim with dots", async () => {
    const nested = new JwtVerifier(jwtSettings(`${base}/jwks`, { rolesClaim: "realm_access.roles" }));
    const fromNested = await nested.verify(
      await sign({ roles: undefined, realm_access: { roles: ["reader"] } }),
    );
    assert.equal(fromNested.role, "reader");
    const namespaced = new JwtVerifier(
      jwtSettings(`${base}/jwks`, { rolesClaim: "https://sluice.dev/roles" }),
    );
    const fromNamespaced = await namespaced.verify(
      await sign({ roles: undefined, "https://sluice.dev/roles": ["admin"] }),
    );
    assert.equal(fromNamespaced.role, "admin");
  });

  test('streams come from the streams claim: a list, a string, "*", or nothing', async () => {
    const cases: [unknown, Principal["streams"]][] = [
      [
        ["orders", "payments", "orders"],
        ["orders", "payments"],
      ],
      ["orders payments", ["orders", "payments"]],
      ["*", "*"],
      [["orders", "*"], "*"],
      [undefined, []],
    ];
    for (const [claim, expected] of cases) {
      const principal = await verifier.verify(await sign({ sluice_streams: claim }));
      assert.deepEqual(principal.streams, expected, JSON.stringify(claim));
    }
  });

  test("an unreachable or broken JWKS is 503: the token may be fine", async () => {
    const down = new JwtVerifier(jwtSettings(`${base}/down`));
    const token = await sign();
    const err = await refused(
      down.verify(token),
      { status: 503, code: "UNAVAILABLE", message: /signing keys/ },
      token,
    );
    assert.equal(err.headers["retry-after"], "1");
    const slow = new JwtVerifier(jwtSettings(`${base}/slow`), { jwksTimeoutMs: 200 });
    await refused(slow.verify(token), { status: 503, code: "UNAVAILABLE", message: /signing keys/ }, token);
  });

  test("createAuth routes bearer JWTs and API keys, and checks the action", async () => {
    const settings: AuthSettings = { apiKeys: false, jwt: jwtSettings(`${base}/jwks`) };
    // API keys are off here, so the client is never used.
    const { dynamo } = createAwsClients({ endpoint: "http://127.0.0.1:9" });
    const auth = createAuth(settings, { dynamo, apiKeysTable: "unused" });
    assert.equal(auth.enabled, true);
    assert.equal(auth.apiKeys, undefined);
    const token = await sign();
    const headers = { authorization: `Bearer ${token}` };
    assert.equal((await auth.check(headers, { kind: "write", stream: "orders" }))?.id, "svc-checkout");
    await refused(
      auth.check(headers, { kind: "write", stream: "payments" }),
      { status: 403, code: "FORBIDDEN", message: /may not write to stream "payments"/ },
      token,
    );
    await refused(auth.check(headers, { kind: "schema:write" }), {
      status: 403,
      code: "FORBIDDEN",
      message: /may not change schemas/,
    });
    await refused(
      auth.check({ "x-api-key": writerKey }, { kind: "read" }),
      invalid(/API keys are not accepted/),
      writerKey,
    );
    assert.equal(await auth.check({}, { kind: "public" }), undefined, "public routes read no credentials");
    assert.equal(await auth.check({ authorization: "garbage" }, { kind: "public" }), undefined);
    await refused(auth.check({}, { kind: "read" }), invalid(/^missing credentials/));
  });

  test("createAuth with authentication off lets everything through as the anonymous admin", async () => {
    const { dynamo } = createAwsClients({ endpoint: "http://127.0.0.1:9" });
    const auth = createAuth({ apiKeys: false }, { dynamo, apiKeysTable: "unused" });
    assert.equal(auth.enabled, false);
    assert.equal(await auth.check({}, { kind: "schema:write" }), ANONYMOUS);
  });
});
