/**
 * Authentication and authorization for Sluice's HTTP surfaces, built once per container from the
 * runtime config:
 *
 * @example
 * const auth = createAuth(config.auth, { dynamo: clients.dynamo, apiKeysTable: config.tables.apiKeys });
 * const principal = await auth.check(event.headers, { kind: "write", stream: "orders" });
 *
 * With `auth: { apiKeys: false }` and no `jwt` in the manifest, authentication is off and every
 * caller is an anonymous admin: for local experiments only.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AuthSettings } from "../manifest/types.ts";
import { ApiKeyStore, type ApiKeyStoreOptions } from "./api-keys.ts";
import { authenticate, authOff } from "./authenticate.ts";
import { authorize } from "./authorize.ts";
import type { GatewayClaims } from "./gateway-claims.ts";
import { JwtVerifier, type JwtVerifierOptions } from "./jwt.ts";
import type { Action, Principal, RequestHeaders } from "./types.ts";

export {
  API_KEY_PATTERN,
  ApiKeyStore,
  type ApiKeyStoreOptions,
  type ApiKeyView,
  type CreatedApiKey,
  hashApiKey,
  isApiKeyShaped,
  type NewApiKey,
  type RevokeOutcome,
} from "./api-keys.ts";
export {
  ANONYMOUS,
  type ApiKeyLookup,
  type AuthenticateDeps,
  authenticate,
  authOff,
  type TokenVerifier,
} from "./authenticate.ts";
export { authorize, permits } from "./authorize.ts";
export { type GatewayClaims, gatewayClaimsOf, gatewayVerifiesJwt } from "./gateway-claims.ts";
export { JWT_ALGORITHMS, JwtVerifier, type JwtVerifierOptions } from "./jwt.ts";
export { type Action, isRole, type Principal, type RequestHeaders, ROLES, type Role } from "./types.ts";

export interface AuthDeps {
  readonly dynamo: DynamoDBDocumentClient;
  /** The apiKeys table (`RuntimeConfig.tables.apiKeys`). */
  readonly apiKeysTable: string;
  readonly apiKeyCache?: ApiKeyStoreOptions;
  readonly jwks?: JwtVerifierOptions;
}

export interface Auth {
  /** False when the manifest turns authentication off. */
  readonly enabled: boolean;
  /** The API key store, to create, list or revoke keys; undefined when API keys are off. */
  readonly apiKeys: ApiKeyStore | undefined;
  /**
   * 401 UNAUTHENTICATED for missing or bad credentials, 403 for a token without a Sluice role.
   * `gatewayClaims`: what API Gateway's JWT authorizer verified for this request (`gatewayClaimsOf`).
   */
  authenticate(headers: RequestHeaders, gatewayClaims?: GatewayClaims): Promise<Principal>;
  /** 403 FORBIDDEN unless the principal may take the action. */
  authorize(principal: Principal, action: Action): void;
  /**
   * Both steps for one request. Public actions read no credentials and return undefined, so
   * health checks work without a key and a bad key sent to them is not an error.
   */
  check(
    headers: RequestHeaders,
    action: Action,
    gatewayClaims?: GatewayClaims,
  ): Promise<Principal | undefined>;
}

export function createAuth(settings: AuthSettings, deps: AuthDeps): Auth {
  const apiKeys = settings.apiKeys
    ? new ApiKeyStore(deps.dynamo, deps.apiKeysTable, deps.apiKeyCache)
    : undefined;
  const jwt = settings.jwt === undefined ? undefined : new JwtVerifier(settings.jwt, deps.jwks);
  const authenticateDeps = {
    settings,
    ...(apiKeys === undefined ? {} : { apiKeys }),
    ...(jwt === undefined ? {} : { jwt }),
  };
  const authenticateHeaders = (headers: RequestHeaders, gatewayClaims?: GatewayClaims) =>
    authenticate(headers, authenticateDeps, gatewayClaims);
  return {
    enabled: !authOff(settings),
    apiKeys,
    authenticate: authenticateHeaders,
    authorize,
    async check(headers, action, gatewayClaims) {
      if (action.kind === "public") return undefined;
      const principal = await authenticateHeaders(headers, gatewayClaims);
      authorize(principal, action);
      return principal;
    },
  };
}
