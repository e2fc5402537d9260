/**
 * The bodies of `POST /v1/schemas` (`{ "name", "namespace"?, "schema", "compatibility"? }`) and of
 * `POST /v1/schemas/{subject}/compatibility` (`{ "schema", "compatibility"? }`), checked before anything
 * is written: names are safe identifiers, the dialect is draft-07 or 2020-12, and the schema has no
 * problem (schema-problems.ts): each one answers 400 INVALID_SCHEMA at its pointer.
 */
import { SluiceError } from "./errors.ts";
import type { JsonSchema } from "./manifest/types.ts";
import { subjectOf } from "./runtime-config.ts";
import { COMPATIBILITY_MODES, type CompatibilityMode, isCompatibilityMode } from "./schema-compat/modes.ts";
import { schemaProblems } from "./schema-problems.ts";

export interface SchemaRegistration {
  readonly subject: string;
  readonly schema: JsonSchema;
  /** Set on the subject before the check, when the body names one. */
  readonly compatibility?: CompatibilityMode;
}

/** The body of `POST /v1/schemas/{subject}/compatibility`: `{ "schema", "compatibility"? }`. */
export interface SchemaCheck {
  readonly schema: JsonSchema;
  /** Check as if the subject had this mode; its own when absent. */
  readonly compatibility?: CompatibilityMode;
}

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const NAMESPACE = /^[a-z][a-z0-9_-]{0,63}(\.[a-z][a-z0-9_-]{0,63}){0,7}$/;
const DIALECTS = new Set([
  "http://json-schema.org/draft-07/schema#",
  "http://json-schema.org/draft-07/schema",
  "https://json-schema.org/draft/2020-12/schema",
]);

const bad = (message: string, path: string) =>
  new SluiceError("INVALID_SCHEMA", message, 400, path, {}, [{ path, message }]);

export function bodyObject(body: Buffer | string, expected: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch {
    throw new SluiceError("INVALID_JSON", "the body is not valid JSON", 400);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new SluiceError("INVALID_REQUEST", `the body must be an object with ${expected}`, 400);
  }
  return value as Record<string, unknown>;
}

export function noOtherKeys(rest: Record<string, unknown>): void {
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined)
    throw new SluiceError("INVALID_REQUEST", `unknown key "${unknown}"`, 400, `/${unknown}`);
}

function modeOf(value: unknown): { compatibility?: CompatibilityMode } {
  if (value === undefined) return {};
  if (!isCompatibilityMode(value)) {
    throw new SluiceError(
      "INVALID_REQUEST",
      `compatibility must be one of ${COMPATIBILITY_MODES.join(", ")}`,
      400,
      "/compatibility",
    );
  }
  return { compatibility: value };
}

/** A JSON Schema Sluice can register: an object, draft-07 or 2020-12, with no problem. */
function checkedSchema(schema: unknown): JsonSchema {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema))
    throw bad("schema must be a JSON object", "/schema");
  const dialect = (schema as JsonSchema).$schema;
  if (dialect !== undefined && (typeof dialect !== "string" || !DIALECTS.has(dialect))) {
    throw bad("$schema must be draft-07 or 2020-12", "/schema/$schema");
  }
  const problems = schemaProblems(schema as JsonSchema, "/schema");
  const first = problems[0];
  if (first) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more in details)` : "";
    throw new SluiceError("INVALID_SCHEMA", first.message + more, 400, first.path, {}, problems);
  }
  return schema as JsonSchema;
}

export function parseSchemaRegistration(body: Buffer | string): SchemaRegistration {
  const {
    name,
    namespace = "default",
    schema,
    compatibility,
    ...rest
  } = bodyObject(body, '"name" and "schema"');
  noOtherKeys(rest);
  if (typeof name !== "string" || !NAME.test(name)) throw bad(`name must match ${NAME.source}`, "/name");
  if (typeof namespace !== "string" || !NAMESPACE.test(namespace)) {
    throw bad(`namespace must match ${NAMESPACE.source}`, "/namespace");
  }
  const mode = modeOf(compatibility);
  return { subject: subjectOf(namespace, name), schema: checkedSchema(schema), ...mode };
}

export function parseSchemaCheck(body: Buffer | string): SchemaCheck {
  const { schema, compatibility, ...rest } = bodyObject(body, '"schema"');
  noOtherKeys(rest);
  const mode = modeOf(compatibility);
  return { schema: checkedSchema(schema), ...mode };
}

/** The body of `PUT /v1/schemas/{subject}/config`: `{ "compatibility" }`. */
export function parseSchemaConfig(body: Buffer | string): CompatibilityMode {
  const { compatibility, ...rest } = bodyObject(body, '"compatibility"');
  noOtherKeys(rest);
  const mode = modeOf(compatibility).compatibility;
  if (mode === undefined)
    throw new SluiceError("INVALID_REQUEST", "compatibility is required", 400, "/compatibility");
  return mode;
}
