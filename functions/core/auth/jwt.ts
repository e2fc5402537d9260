/**
 * JWT bearer tokens from an identity provider: signature against the provider's JWKS (fetched
 * and cached by jose), then issuer, audience and expiry with leeway, then Sluice roles and
 * streams from the claims.
 *
 * Roles come from the configured roles claim (a list or a space-separated string, each entry
 * `writer` or `sluice:writer`) and from OAuth scopes (`scope` string or `scp` list) of the form
 * `sluice:<role>`. A valid token that carries no Sluice role is refused with 403, not 401: the
 * caller is known, just not permitted, and getting a new token from the same provider won't help.
 * A missing streams claim means no streams (writers and readers then reach nothing).
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import { SluiceError } from "../errors.ts";
import type { JwtSettings } from "../manifest/types.ts";
import { checkUnavailable, invalidCredentials } from "./errors.ts";
import { isRole, type Principal, type Role, rankRoles } from "./types.ts";

/** Asymmetric algorithms only: a JWKS publishes public keys, and HS* would need a shared secret. */
export const JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];

const ROLE_SCOPE_PREFIX = "sluice:";
/** Well above any real token; keeps a hostile header from costing a decode. */
const MAX_TOKEN_LENGTH = 16_384;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface JwtVerifierOptions {
  /** Give up on a JWKS fetch after this long. @default 3000 */
  readonly jwksTimeoutMs?: number;
  /** Minimum time between refetches for an unknown `kid`. @default 30000 */
  readonly jwksCooldownMs?: number;
  /** Refetch the JWKS at least this often. @default 600000 */
  readonly jwksMaxAgeMs?: number;
}

export class JwtVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    private readonly settings: JwtSettings,
    options: JwtVerifierOptions = {},
  ) {
    this.jwks = createRemoteJWKSet(new URL(settings.jwksUrl), {
      timeoutDuration: options.jwksTimeoutMs ?? 3_000,
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
    });
  }

  /** The principal a token stands for; throws 401 for a bad token, 403 for one without a role. */
  async verify(token: string): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH) throw invalidCredentials("token too large");
    if (!COMPACT_JWS.test(token)) throw invalidCredentials("token malformed: expected a signed JWT");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.settings.issuer,
        audience:
          typeof this.settings.audience === "string" ? this.settings.audience : [...this.settings.audience],
        clockTolerance: this.settings.leewaySeconds,
        algorithms: JWT_ALGORITHMS,
        // A token without an expiry would be good forever.
        requiredClaims: ["exp", "sub"],
      }));
    } catch (err) {
      throw refusalFor(err);
    }
    return principalOfClaims(payload, this.settings);
  }
}

/**
 * The principal verified claims stand for: from a token this module verified, or from API
 * Gateway's JWT authorizer (gateway-claims.ts). Throws 401 without a subject, 403 without a role.
 */
export function principalOfClaims(
  payload: Readonly<Record<string, unknown>>,
  settings: Pick<JwtSettings, "rolesClaim" | "streamsClaim">,
): Principal {
  if (typeof payload.sub !== "string" || payload.sub === "") {
    throw invalidCredentials("token subject (sub) must be a non-empty string");
  }
  const ranked = rankRoles(rolesOf(payload, settings.rolesClaim));
  if (ranked === undefined) {
    throw new SluiceError(
      "FORBIDDEN",
      `token grants no Sluice role: expected one in the ${settings.rolesClaim} claim or a sluice:<role> scope`,
      403,
    );
  }
  return {
    id: payload.sub,
    kind: "jwt",
    ...ranked,
    streams: streamsOf(claimAt(payload, settings.streamsClaim)),
  };
}

function rolesOf(payload: Readonly<Record<string, unknown>>, rolesClaim: string): Role[] {
  const roles: Role[] = [];
  for (const word of words(claimAt(payload, rolesClaim))) {
    const name = word.startsWith(ROLE_SCOPE_PREFIX) ? word.slice(ROLE_SCOPE_PREFIX.length) : word;
    if (isRole(name)) roles.push(name);
  }
  for (const scope of [...words(payload.scope), ...words(payload.scp)]) {
    if (!scope.startsWith(ROLE_SCOPE_PREFIX)) continue;
    const name = scope.slice(ROLE_SCOPE_PREFIX.length);
    if (isRole(name)) roles.push(name);
  }
  return roles;
}

/**
 * A claim by name, or by dotted path into nested objects (`realm_access.roles`); the literal
 * name wins because namespaced claims such as `https://example.com/roles` contain dots.
 */
function claimAt(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let value: unknown = payload;
  for (const part of name.split(".")) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A list of strings, or one string of space- or comma-separated words. */
function words(value: unknown): string[] {
  if (typeof value === "string") return value.split(/[\s,]+/).filter((word) => word !== "");
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === "string");
  return [];
}

function streamsOf(value: unknown): Principal["streams"] {
  const names = words(value);
  return names.includes("*") ? "*" : [...new Set(names)];
}

/** jose's error codes, worded for the caller; anything unknown is the key source's fault. */
function refusalFor(err: unknown): SluiceError {
  const { code, claim } = err as { code?: unknown; claim?: unknown };
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return invalidCredentials("token expired");
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return invalidCredentials("token signature invalid");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return invalidCredentials("token signing key not recognised");
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return invalidCredentials("token signing key ambiguous: the token needs a kid header");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return invalidCredentials("token algorithm not accepted");
    case "ERR_JOSE_NOT_SUPPORTED":
      return invalidCredentials("token uses an unsupported algorithm or header");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return invalidCredentials("token malformed: expected a signed JWT");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return invalidCredentials(claimRefusal(claim, (err as { reason?: unknown }).reason));
    default:
      return checkUnavailable("cannot verify tokens right now: the signing keys are unavailable");
  }
}

function claimRefusal(claim: unknown, reason: unknown): string {
  if (reason === "missing") return `token lacks the ${String(claim)} claim`;
  switch (claim) {
    case "iss":
      return "token issuer not accepted";
    case "aud":
      return "token audience not accepted";
    case "nbf":
      return "token not valid yet";
    default:
      return `token ${String(claim)} claim invalid`;
  }
}
