/**
 * What every Sluice HTTP function does around its routes, on API Gateway v2 (HTTP API) events:
 * authentication first (callers without rights learn nothing), then the route, then errors
 * shaped as `{ error: { code, message, path? } }` with their status, and nothing internal leaked.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type Action, type Auth, gatewayClaimsOf, type Principal } from "./auth/index.ts";
import { SluiceError } from "./errors.ts";
import type { Logger } from "./logger.ts";

export type HttpApp = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}

export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  return event.headers?.[name] ?? event.headers?.[name.toLowerCase()];
}

/** The body as bytes when API Gateway base64-encoded it, else the text it already decoded. */
export function bodyOf(event: APIGatewayProxyEventV2): Buffer | string {
  if (event.body === undefined || event.body === null) return "";
  return event.isBase64Encoded ? Buffer.from(event.body, "base64") : event.body;
}

export function noRoute(event: APIGatewayProxyEventV2): SluiceError {
  return new SluiceError(
    "NOT_FOUND",
    `no route for ${event.requestContext?.http?.method} ${event.rawPath}`,
    404,
  );
}

export interface HttpAppParts {
  readonly logger: Logger;
  readonly auth: Auth;
  /** What the request asks to do, for authorization. */
  readonly actionFor: (event: APIGatewayProxyEventV2) => Action;
  /** `principal` is who passed `actionFor`'s check; undefined for public actions. */
  readonly route: (
    event: APIGatewayProxyEventV2,
    log: Logger,
    principal: Principal | undefined,
  ) => Promise<APIGatewayProxyStructuredResultV2>;
}

export function httpApp(parts: HttpAppParts): HttpApp {
  return async (event) => {
    const log = parts.logger.child({ requestId: event.requestContext?.requestId, route: event.routeKey });
    try {
      const principal = await parts.auth.check(
        event.headers ?? {},
        parts.actionFor(event),
        gatewayClaimsOf(event),
      );
      if (principal) log.debug("authorized", { principal: principal.id, role: principal.role });
      return await parts.route(event, log, principal);
    } catch (err) {
      if (err instanceof SluiceError) {
        log.info("request refused", { code: err.code, status: err.status });
        return json(err.status, { error: err.toDetail() }, { ...err.headers });
      }
      log.error("request failed", { error: (err as Error).name });
      return json(500, { error: { code: "INTERNAL", message: "internal error" } });
    }
  };
}
