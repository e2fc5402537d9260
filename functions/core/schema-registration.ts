/**
 * The body of `POST /v1/schemas`: `{ "name", "namespace"?, "schema" }`, checked before anything
 * is written: names are safe identifiers, the dialect is draft-07 or 2020-12, and ajv compiles it.
 */
import { SluiceError } from "./errors.ts";
import type { JsonSchema } from "./manifest/types.ts";
import { subjectOf } from "./runtime-config.ts";
import { compileSchema } from "./validators.ts";

export interface SchemaRegistration {
  readonly subject: string;
  readonly schema: JsonSchema;
}

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const NAMESPACE = /^[a-z][a-z0-9_-]{0,63}(\.[a-z][a-z0-9_-]{0,63}){0,7}$/;
const DIALECTS = new Set([
  "http://json-schema.org/draft-07/schema#",
  "http://json-schema.org/draft-07/schema",
  "https://json-schema.org/draft/2020-12/schema",
]);

const bad = (message: string, path: string) => new SluiceError("INVALID_SCHEMA", message, 400, path);

export function parseSchemaRegistration(body: Buffer | string): SchemaRegistration {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch {
    throw new SluiceError("INVALID_JSON", "the body is not valid JSON", 400);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new SluiceError("INVALID_REQUEST", 'the body must be an object with "name" and "schema"', 400);
  }
  const { name, namespace = "default", schema, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined)
    throw new SluiceError("INVALID_REQUEST", `unknown key "${unknown}"`, 400, `/${unknown}`);
  if (typeof name !== "string" || !NAME.test(name)) throw bad(`name must match ${NAME.source}`, "/name");
  if (typeof namespace !== "string" || !NAMESPACE.test(namespace)) {
    throw bad(`namespace must match ${NAMESPACE.source}`, "/namespace");
  }
  if (schema === null || typeof schema !== "object" || Array.isArray(schema))
    throw bad("schema must be a JSON object", "/schema");
  const dialect = (schema as JsonSchema).$schema;
  if (dialect !== undefined && (typeof dialect !== "string" || !DIALECTS.has(dialect))) {
    throw bad("$schema must be draft-07 or 2020-12", "/schema/$schema");
  }
  try {
    compileSchema(schema as JsonSchema);
  } catch (err) {
    throw bad(`schema does not compile: ${(err as Error).message.slice(0, 300)}`, "/schema");
  }
  return { subject: subjectOf(namespace, name), schema: schema as JsonSchema };
}
