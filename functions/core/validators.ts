/**
 * JSON Schema validators compiled with ajv, cached per container. The latest version of a
 * subject is looked up again after `ttlMs`, so a newly registered version takes effect without
 * a redeploy; a given version never changes, so its validator is kept.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { isDateTime } from "./date-time-format.ts";
import type { JsonSchema } from "./manifest/types.ts";
import type { FieldIdMap } from "./parquet/field-ids.ts";
import type { SchemaRegistry, SchemaVersion } from "./schema-registry.ts";

// ajv-formats is CommonJS with a default export that ESM sees as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export interface Violation {
  /** JSON pointer into the record. */
  readonly path: string;
  readonly message: string;
}

export interface CompiledSchema {
  readonly subject: string;
  readonly version: number;
  readonly schema: JsonSchema;
  /** The version's Parquet field ids, by schema path; absent on versions registered before ids. */
  readonly fieldIds?: FieldIdMap;
  /** Returns every violation, or an empty list. */
  validate(record: unknown): Violation[];
}

function isDraft2020(schema: JsonSchema): boolean {
  const id = schema.$schema;
  return typeof id === "string" && id.includes("2020-12");
}

/** Told of every `pattern` and `patternProperties` key ajv compiles, while `compileSchema` has one. */
let patternObserver: ((source: string) => void) | undefined;

/** JS RegExp, as ajv's default; `code` keeps the generated validators identical to the default's. */
const patternRegExp = Object.assign(
  (source: string, flags: string) => {
    patternObserver?.(source);
    return new RegExp(source, flags);
  },
  { code: "new RegExp" },
);

const ajvOptions = {
  allErrors: true,
  strict: false,
  validateFormats: true,
  code: { regExp: patternRegExp },
} as const;
let draft07: Ajv | undefined;
let draft2020: Ajv | undefined;

/** ajv-formats, with its `date-time` check swapped for an equal one that is several times faster. */
function withFormats(ajv: Ajv): Ajv {
  const reference = fullFormats["date-time"] as { compare: (a: string, b: string) => number | undefined };
  return addFormats(ajv).addFormat("date-time", { validate: isDateTime, compare: reference.compare });
}

function ajvFor(schema: JsonSchema): Ajv {
  if (isDraft2020(schema)) {
    draft2020 ??= withFormats(new Ajv2020(ajvOptions) as unknown as Ajv);
    return draft2020;
  }
  draft07 ??= withFormats(new Ajv(ajvOptions));
  return draft07;
}

/**
 * Throws when the schema itself is invalid. `onPattern` hears the source of every regex ajv
 * compiles for it, wherever a `$ref` led ajv: registration checks each of them.
 */
export function compileSchema(schema: JsonSchema, onPattern?: (source: string) => void): ValidateFunction {
  const { $id: _ignored, ...rest } = schema;
  patternObserver = onPattern;
  try {
    // $id is dropped so two versions of one subject can be compiled side by side.
    return ajvFor(schema).compile(rest);
  } finally {
    patternObserver = undefined;
  }
}

/** Where `schema` breaks its dialect's meta-schema (instancePath points into the schema). */
export function metaSchemaErrors(schema: JsonSchema): ErrorObject[] {
  const ajv = ajvFor(schema);
  return ajv.validateSchema(schema) ? [] : [...(ajv.errors ?? [])];
}

function describe(error: ErrorObject): Violation {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "required") {
    return { path: `${error.instancePath}/${String(params.missingProperty)}`, message: "is required" };
  }
  if (error.keyword === "additionalProperties") {
    return {
      path: `${error.instancePath}/${String(params.additionalProperty)}`,
      message: "is not allowed",
    };
  }
  if (error.keyword === "enum") {
    const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ");
    return { path: error.instancePath || "/", message: `must be one of ${allowed}` };
  }
  return { path: error.instancePath || "/", message: error.message ?? error.keyword };
}

/** Shared by every valid record: the common case allocates nothing. */
const NO_VIOLATIONS: Violation[] = Object.freeze([]) as unknown as Violation[];

export function compiled(version: SchemaVersion): CompiledSchema {
  const fn = compileSchema(version.schema);
  return {
    subject: version.subject,
    version: version.version,
    schema: version.schema,
    ...(version.fieldIds ? { fieldIds: version.fieldIds } : {}),
    validate(record) {
      return fn(record) ? NO_VIOLATIONS : (fn.errors ?? []).map(describe);
    },
  };
}

export class ValidatorCache {
  private readonly latestBySubject = new Map<string, { value: CompiledSchema; expires: number }>();
  private readonly byVersion = new Map<string, CompiledSchema>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly ttlMs = 30_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The latest version of `subject`, or undefined when none is registered. */
  async latest(subject: string): Promise<CompiledSchema | undefined> {
    const hit = this.latestBySubject.get(subject);
    if (hit && hit.expires > this.clock()) return hit.value;
    const version = await this.registry.latest(subject);
    if (!version) return undefined;
    const value = this.versionFromCache(version);
    this.latestBySubject.set(subject, { value, expires: this.clock() + this.ttlMs });
    return value;
  }

  async get(subject: string, version: number): Promise<CompiledSchema | undefined> {
    const hit = this.byVersion.get(`${subject}@${version}`);
    if (hit) return hit;
    const found = await this.registry.get(subject, version);
    return found ? this.versionFromCache(found) : undefined;
  }

  private versionFromCache(version: SchemaVersion): CompiledSchema {
    const key = `${version.subject}@${version.version}`;
    let value = this.byVersion.get(key);
    if (!value) {
      value = compiled(version);
      this.byVersion.set(key, value);
    }
    return value;
  }
}
