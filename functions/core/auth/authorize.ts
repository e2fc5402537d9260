/**
 * Role-based access: what each role may do, and which streams bind it.
 *
 * | action        | admin | operator | schema_admin | writer        | reader        |
 * |---------------|-------|----------|--------------|---------------|---------------|
 * | write stream  | yes   | yes      | -            | its streams   | -             |
 * | read stream   | yes   | yes      | yes          | its streams   | its streams   |
 * | schema:read   | yes   | yes      | yes          | yes           | yes           |
 * | schema:write  | yes   | -        | yes          | -             | -             |
 * | admin (keys)  | yes   | -        | -            | -             | -             |
 * | public        | yes, and no credentials needed                                  |
 *
 * A principal may do what any of its roles allows. The stream list binds writers and readers
 * only: operators and admins run the whole installation, so a list on them would be misleading.
 */
import { SluiceError } from "../errors.ts";
import type { Action, Principal, Role } from "./types.ts";

/** Whether `principal` may take `action`; for filtering listings without throwing. */
export function permits(principal: Principal, action: Action): boolean {
  return principal.roles.some((role) => roleAllows(role, principal.streams, action));
}

/** Throws FORBIDDEN (403) unless `principal` may take `action`. */
export function authorize(principal: Principal, action: Action): void {
  if (permits(principal, action)) return;
  throw new SluiceError("FORBIDDEN", refusal(principal, action), 403);
}

function roleAllows(role: Role, streams: Principal["streams"], action: Action): boolean {
  switch (action.kind) {
    case "public":
    case "schema:read":
      return true;
    case "schema:write":
      return role === "admin" || role === "schema_admin";
    case "admin":
      return role === "admin";
    case "write":
      if (role === "admin" || role === "operator") return true;
      return role === "writer" && covers(streams, action.stream);
    case "read":
      if (role === "admin" || role === "operator" || role === "schema_admin") return true;
      return action.stream === undefined || covers(streams, action.stream);
  }
}

function covers(streams: Principal["streams"], stream: string): boolean {
  return streams === "*" || streams.includes(stream);
}

function refusal(principal: Principal, action: Action): string {
  const who = `role ${principal.roles.join(", ")}`;
  switch (action.kind) {
    case "write":
      return `${who} may not write to stream ${JSON.stringify(action.stream)}`;
    case "read":
      return `${who} may not read stream ${JSON.stringify(action.stream)}`;
    case "schema:write":
      return `${who} may not change schemas: that needs schema_admin or admin`;
    case "admin":
      return `${who} may not manage API keys: that needs admin`;
    default:
      return `${who} may not do this`;
  }
}
