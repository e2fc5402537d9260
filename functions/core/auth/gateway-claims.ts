/**
 * Claims that API Gateway's native JWT authorizer already verified. When JWT is the only scheme
 * (`auth.jwt` set, `apiKeys: false`), the CDK app puts the HTTP API's JWT authorizer on every
 * route but the public ones (lib/ingest-api.ts): the gateway checks signature, issuer, audience
 * and expiry, refuses bad tokens before any function runs, and passes the claims in
 * `requestContext.authorizer.jwt.claims`. Roles and streams are still Sluice's to judge, so the
 * function builds the principal from those claims as it does from a token it verified itself.
 * With API keys on as well, a gateway authorizer would refuse every API-key caller, so both
 * schemes stay verified in the function.
 */
import type { AuthSettings } from "../manifest/types.ts";

export type GatewayClaims = Readonly<Record<string, unknown>>;

/** True when the deployed API verifies JWTs at the gateway (JWT is the only credential accepted). */
export function gatewayVerifiesJwt(settings: AuthSettings): boolean {
  return settings.jwt !== undefined && !settings.apiKeys;
}

/** The authorizer's claims in an API Gateway v2 event; undefined when no JWT authorizer ran. */
export function gatewayClaimsOf(event: { readonly requestContext?: object }): GatewayClaims | undefined {
  const context = event.requestContext as
    | { readonly authorizer?: { readonly jwt?: { readonly claims?: unknown } } }
    | undefined;
  const claims = context?.authorizer?.jwt?.claims;
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) return undefined;
  return normalizedClaims(claims as Record<string, unknown>);
}

/**
 * HTTP API (payload 2.0) passes a list claim as text, `[writer reader]`, and newer integrations
 * as JSON text or a list: each becomes a list again so `roles: ["writer"]` reads the same as in
 * the token. Nested objects are not passed usably (`map[...]`), so roles and streams claims must
 * be top-level with the gateway authorizer.
 */
function normalizedClaims(claims: Record<string, unknown>): GatewayClaims {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(claims)) out[name] = listOf(value);
  return out;
}

function listOf(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (!text.startsWith("[") || !text.endsWith("]")) return value;
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed;
  } catch {
    // Not JSON: the space-separated form.
  }
  return text
    .slice(1, -1)
    .split(/\s+/)
    .filter((word) => word !== "");
}
