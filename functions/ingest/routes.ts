/** The stream lifecycle's admin routes (functions/ingest/stream-routes.ts), served by ingest. */
export const STREAM_ROUTES = [
  "GET /v1/streams",
  "POST /v1/streams",
  "POST /v1/streams/{stream}/pause",
  "POST /v1/streams/{stream}/resume",
  "DELETE /v1/streams/{stream}",
] as const;

/**
 * The API's routes, shared by the CDK app (HTTP API routes) and the local gateway, so both send
 * the same route keys to the same function: ingest's, the schema registry's or the admin one's.
 */
export const INGEST_ROUTES = [
  "POST /v1/streams/{stream}/records",
  "GET /v1/streams/{stream}",
  "GET /v1/health",
  "GET /v1/openapi.json",
  ...STREAM_ROUTES,
] as const;

/** Served by the schema registry's own function (functions/registry). */
export const REGISTRY_ROUTES = [
  "POST /v1/schemas",
  "GET /v1/schemas",
  "GET /v1/schemas/{name}/versions",
  "GET /v1/schemas/{name}/versions/{version}",
  "GET /v1/schemas/{name}/config",
  "PUT /v1/schemas/{name}/config",
  "POST /v1/schemas/{name}/compatibility",
] as const;

/**
 * Served by the admin function (functions/admin): the API keys (it alone may write them) and a
 * stream's statistics (it alone reads CloudWatch).
 */
export const ADMIN_ROUTES = [
  "POST /v1/keys",
  "GET /v1/keys",
  "DELETE /v1/keys/{id}",
  "GET /v1/streams/{stream}/stats",
] as const;

/** The live tail; deployed, a function URL with response streaming serves it, not the HTTP API. */
export const TAIL_ROUTE = "GET /v1/streams/{stream}/tail";
/** Served by the query function (functions/query): reads of the lake, and the live tail. */
export const QUERY_ROUTES = [
  "GET /v1/streams/{stream}/records",
  TAIL_ROUTE,
  "GET /v1/streams/{stream}/files",
] as const;

/**
 * Open to anonymous callers (liveness, the API description): no gateway authorizer sits on them,
 * and health gives authenticated callers more after checking their credential itself.
 */
export const PUBLIC_ROUTES = ["GET /v1/health", "GET /v1/openapi.json"] as const;

export function isPublicRoute(routeKey: string): boolean {
  return (PUBLIC_ROUTES as readonly string[]).includes(routeKey);
}

/** Served by the import jobs' function (functions/imports). */
export const IMPORT_ROUTES = ["POST /v1/imports", "GET /v1/imports/{id}"] as const;

/** Every route of the API, whichever function serves it. */
export const API_ROUTES = [
  ...INGEST_ROUTES,
  ...REGISTRY_ROUTES,
  ...ADMIN_ROUTES,
  ...QUERY_ROUTES,
  ...IMPORT_ROUTES,
] as const;

export function isImportRoute(routeKey: string): boolean {
  return (IMPORT_ROUTES as readonly string[]).includes(routeKey);
}

export function isAdminRoute(routeKey: string): boolean {
  return (ADMIN_ROUTES as readonly string[]).includes(routeKey);
}

export function isQueryRoute(routeKey: string): boolean {
  return (QUERY_ROUTES as readonly string[]).includes(routeKey);
}

export function isRegistryRoute(routeKey: string): boolean {
  return (REGISTRY_ROUTES as readonly string[]).includes(routeKey);
}

export type ApiRoute = (typeof API_ROUTES)[number];

export interface RouteMatch {
  readonly routeKey: ApiRoute;
  readonly pathParameters: Record<string, string>;
}

const compiled = API_ROUTES.map((routeKey) => {
  const [method, template] = routeKey.split(" ") as [string, string];
  const names: string[] = [];
  const pattern = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { routeKey, method, regex: new RegExp(`^${pattern}$`), names };
});

/**
 * A malformed escape (`%E0%A4%A`, `feedback%`, `%ff`) stays as sent, as API Gateway passes it,
 * so the handler answers it as the invalid name it is rather than the router throwing.
 */
function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Matches like API Gateway: exact method and path, one segment per parameter. */
export function matchRoute(method: string, path: string): RouteMatch | "METHOD_NOT_ALLOWED" | undefined {
  let pathMatched = false;
  for (const r of compiled) {
    const m = r.regex.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== method.toUpperCase()) continue;
    const pathParameters: Record<string, string> = {};
    r.names.forEach((n, i) => {
      pathParameters[n] = decodeSegment(m[i + 1]!);
    });
    return { routeKey: r.routeKey, pathParameters };
  }
  return pathMatched ? "METHOD_NOT_ALLOWED" : undefined;
}
