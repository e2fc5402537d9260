/**
 * Request headers to a Principal. A credential arrives as `Authorization: Bearer <token>` or
 * `x-api-key: <key>`; a bearer token starting with `sk_` is an API key, any other a JWT.
 * Every refusal is a 401 whose message names what is wrong, never what was sent.
 */
import type { AuthSettings } from "../manifest/types.ts";
import { isApiKeyShaped } from "./api-keys.ts";
import { checkUnavailable, invalidCredentials, missingCredentials } from "./errors.ts";
import { type GatewayClaims, gatewayVerifiesJwt } from "./gateway-claims.ts";
import { principalOfClaims } from "./jwt.ts";
import type { Principal, RequestHeaders } from "./types.ts";

/** What authentication needs of an API key store (`ApiKeyStore` is the real one). */
export interface ApiKeyLookup {
  lookup(key: string): Promise<Principal | undefined>;
}

/** What authentication needs of a token verifier (`JwtVerifier` is the real one). */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export interface AuthenticateDeps {
  readonly settings: AuthSettings;
  /** Present when `settings.apiKeys` is on. */
  readonly apiKeys?: ApiKeyLookup;
  /** Present when `settings.jwt` is set. */
  readonly jwt?: TokenVerifier;
}

/** Who every request is when authentication is off. */
export const ANONYMOUS: Principal = Object.freeze({
  id: "anonymous",
  kind: "anonymous",
  role: "admin",
  roles: Object.freeze(["admin" as const]),
  streams: "*",
});

/** b64token of RFC 6750: what a bearer credential may consist of. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export function authOff(settings: AuthSettings): boolean {
  return !settings.apiKeys && settings.jwt === undefined;
}

/**
 * Throws UNAUTHENTICATED (401), or UNAVAILABLE (503) when keys cannot be checked right now.
 * `gatewayClaims` are what API Gateway's JWT authorizer verified (gateway-claims.ts); they are
 * trusted only when the manifest makes the gateway the verifier, and otherwise ignored.
 */
export async function authenticate(
  headers: RequestHeaders,
  deps: AuthenticateDeps,
  gatewayClaims?: GatewayClaims,
): Promise<Principal> {
  if (authOff(deps.settings)) return ANONYMOUS;
  if (gatewayClaims !== undefined && deps.settings.jwt !== undefined && gatewayVerifiesJwt(deps.settings)) {
    return principalOfClaims(gatewayClaims, deps.settings.jwt);
  }
  const credential = credentialOf(headers);
  if (credential.kind === "api-key" || credential.value.startsWith("sk_")) {
    return apiKeyPrincipal(credential.value, deps);
  }
  if (deps.settings.jwt === undefined || deps.jwt === undefined) {
    throw invalidCredentials("JWT bearer tokens are not accepted here: use an API key (sk_...)");
  }
  return deps.jwt.verify(credential.value);
}

async function apiKeyPrincipal(key: string, deps: AuthenticateDeps): Promise<Principal> {
  if (!deps.settings.apiKeys || deps.apiKeys === undefined) {
    throw invalidCredentials("API keys are not accepted here: use a JWT bearer token");
  }
  if (!isApiKeyShaped(key)) throw invalidCredentials("API key malformed");
  let principal: Principal | undefined;
  try {
    principal = await deps.apiKeys.lookup(key);
  } catch {
    // The store's error may be a DynamoDB one; its details are for the table's owner, not the caller.
    throw checkUnavailable("cannot check API keys right now");
  }
  if (principal === undefined) throw invalidCredentials("API key not recognised or disabled");
  return principal;
}

type Credential = { readonly kind: "api-key" | "bearer"; readonly value: string };

function credentialOf(headers: RequestHeaders): Credential {
  const authorization = headerValue(headers, "authorization");
  const apiKey = headerValue(headers, "x-api-key");
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const space = authorization.search(/\s/);
    const scheme = space < 0 ? authorization : authorization.slice(0, space);
    if (scheme.toLowerCase() === "bearer") {
      const token = space < 0 ? "" : authorization.slice(space).trim();
      if (!B64TOKEN.test(token)) {
        throw invalidCredentials("Authorization header malformed: expected Bearer <token>");
      }
      bearer = token;
    } else if (apiKey === undefined) {
      // The "scheme" may be a bare key someone pasted, so it is not repeated back.
      throw invalidCredentials("Authorization scheme not supported: use Bearer <token>");
    }
    // Another scheme next to x-api-key (e.g. a signing proxy's) is not ours to judge.
  }
  if (bearer !== undefined && apiKey !== undefined) {
    throw invalidCredentials("send one credential: Authorization or x-api-key, not both");
  }
  if (bearer !== undefined) return { kind: "bearer", value: bearer };
  if (apiKey !== undefined) return { kind: "api-key", value: apiKey };
  throw missingCredentials();
}

/** Header names are lowercase from API Gateway v2 and Node; any other casing is still found. */
function headerValue(headers: RequestHeaders, name: string): string | undefined {
  if (!headers) return undefined;
  let value = headers[name];
  if (value === undefined) {
    for (const [key, v] of Object.entries(headers)) {
      if (key.toLowerCase() === name) {
        value = v;
        break;
      }
    }
  }
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}
