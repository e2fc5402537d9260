/**
 * Who is calling (a Principal) and what they ask to do (an Action). Authentication turns request
 * headers into a Principal; authorization decides whether that Principal may take the Action.
 */

/** Roles from most to least powerful; a principal's `role` is the first of its roles here. */
export const ROLES = ["admin", "operator", "schema_admin", "writer", "reader"] as const;

export type Role = (typeof ROLES)[number];

export interface Principal {
  /** API key id, JWT `sub`, or "anonymous": safe to log, never the credential. */
  readonly id: string;
  /** "anonymous" only when the manifest turns authentication off. */
  readonly kind: "api-key" | "jwt" | "anonymous";
  /** The most powerful of `roles`. */
  readonly role: Role;
  /** Never empty: a caller with no Sluice role is refused at authentication. */
  readonly roles: readonly Role[];
  /** Streams a writer may write and a writer or reader may read; "*" is every stream. */
  readonly streams: "*" | readonly string[];
}

export type Action =
  | { readonly kind: "write"; readonly stream: string }
  /** Without a stream: a listing, which the caller filters with `permits`. */
  | { readonly kind: "read"; readonly stream?: string }
  | { readonly kind: "schema:write" }
  | { readonly kind: "schema:read" }
  /** Running the installation: stream lifecycle and API keys, admins only. */
  | { readonly kind: "admin" }
  /** Health and the OpenAPI document: no credentials needed. */
  | { readonly kind: "public" };

/** Request headers as API Gateway v2 passes them (lowercase names, repeated values joined). */
export type RequestHeaders = Readonly<Record<string, string | undefined>> | null | undefined;

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** The roles in rank order, without repeats; undefined when there are none. */
export function rankRoles(roles: Iterable<Role>): { role: Role; roles: Role[] } | undefined {
  const present = new Set(roles);
  const ranked = ROLES.filter((role) => present.has(role));
  const [role] = ranked;
  return role === undefined ? undefined : { role, roles: ranked };
}
