/** Validates the manifest against its JSON Schema with ajv and words ajv's errors for people. */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { ManifestIssueCode } from "./errors.ts";
import schemaJson from "./manifest.schema.json" with { type: "json" };
import { isRecord, segmentsOf, valueAt } from "./positions.ts";
import type { Reporter } from "./report.ts";
import { closest, hint } from "./suggest.ts";

// ajv-formats is CommonJS with a default export that ESM sees as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** The JSON Schema of `sluice.yaml` as users write it (no defaults filled in). */
export const manifestSchema: Readonly<Record<string, unknown>> = schemaJson;

let shapeValidator: ValidateFunction | undefined;

function validateShape(data: unknown): ErrorObject[] {
  if (shapeValidator === undefined) {
    // verbose: errors carry their schema, which holds the friendlier messages and allowed keys.
    // strictTypes off: `required` inside if/then without a `type` is intended in this schema.
    const ajv = new Ajv({ allErrors: true, verbose: true, strictTypes: false });
    addFormats(ajv);
    // Annotations VS Code's YAML/JSON support also reads; ajv must only know them.
    ajv.addKeyword({ keyword: "patternErrorMessage", schemaType: "string" });
    ajv.addKeyword({ keyword: "errorMessage", schemaType: "string" });
    shapeValidator = ajv.compile(manifestSchema);
  }
  shapeValidator(data);
  return shapeValidator.errors ?? [];
}

export function reportShapeErrors(data: unknown, badKinds: ReadonlySet<string>, report: Reporter): void {
  for (const error of validateShape(data)) {
    // "if" repeats its "then" errors; "oneOf" only enforces one kind per step or condition,
    // which checkKinds words better; "propertyNames" repeats its inner error.
    if (error.keyword === "if" || error.keyword === "oneOf" || error.keyword === "propertyNames") continue;
    if (badKinds.has(error.instancePath)) continue;
    const path = segmentsOf(error.instancePath, data);
    const parent = isRecord(error.parentSchema) ? error.parentSchema : {};
    const params = error.params as Record<string, unknown>;
    const override = typeof parent.errorMessage === "string" ? parent.errorMessage : undefined;

    if (error.propertyName !== undefined) {
      const message = override ?? describeError(error, parent, params, error.propertyName);
      report.error(codeOf(error.keyword), [...path, error.propertyName], `key ${message}`, "key");
      continue;
    }
    switch (error.keyword) {
      case "additionalProperties": {
        const key = String(params.additionalProperty);
        const allowed = isRecord(parent.properties) ? Object.keys(parent.properties) : [];
        report.error(
          "UNKNOWN_KEY",
          [...path, key],
          `unknown key ${JSON.stringify(key)}${hint(key, allowed)}`,
          "key",
        );
        break;
      }
      case "required": {
        const message = override ?? `missing required key ${JSON.stringify(params.missingProperty)}`;
        report.error("MISSING_KEY", path, message, "key");
        break;
      }
      case "uniqueItems": {
        const later = Math.max(Number(params.i), Number(params.j));
        const earlier = Math.min(Number(params.i), Number(params.j));
        const repeated = JSON.stringify(valueAt(data, [...path, later]));
        report.error("INVALID_VALUE", [...path, later], `repeats ${repeated} (already item ${earlier})`);
        break;
      }
      default:
        report.error(
          codeOf(error.keyword),
          path,
          override ?? describeError(error, parent, params, error.data),
        );
    }
  }
}

function codeOf(keyword: string): ManifestIssueCode {
  switch (keyword) {
    case "type":
      return "INVALID_TYPE";
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return "OUT_OF_RANGE";
    case "required":
      return "MISSING_KEY";
    case "additionalProperties":
      return "UNKNOWN_KEY";
    default:
      return "INVALID_VALUE";
  }
}

function describeError(
  error: ErrorObject,
  parent: Record<string, unknown>,
  params: Record<string, unknown>,
  value: unknown,
): string {
  switch (error.keyword) {
    case "type":
      return `must be ${typeNames(String(params.type))} (found ${describeValue(value)})`;
    case "enum": {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      const choices = allowed.map((choice) => JSON.stringify(choice)).join(", ");
      const guess = typeof value === "string" ? closest(value, allowed.map(String)) : undefined;
      return `must be one of ${choices}${guess === undefined ? "" : `; did you mean ${JSON.stringify(guess)}?`}`;
    }
    case "const":
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case "pattern":
      return typeof parent.patternErrorMessage === "string"
        ? parent.patternErrorMessage
        : `must match the pattern ${String(params.pattern)}`;
    case "minItems":
      return Number(params.limit) === 1 ? "must not be empty" : `must have at least ${params.limit} items`;
    case "maxItems":
      return `must have at most ${params.limit} items`;
    case "minProperties":
      return Number(params.limit) === 1 ? "must not be empty" : `must have at least ${params.limit} keys`;
    case "minLength":
      return Number(params.limit) === 1 ? "must not be empty" : `must be at least ${params.limit} characters`;
    case "format":
      return `must be a valid ${String(params.format)}`;
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

function typeNames(types: string): string {
  const names: Record<string, string> = {
    object: "a mapping",
    array: "a list",
    string: "a string",
    integer: "an integer",
    number: "a number",
    boolean: "true or false",
    null: "empty",
  };
  return types
    .split(",")
    .map((type) => names[type] ?? type)
    .join(" or ");
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "number") return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
