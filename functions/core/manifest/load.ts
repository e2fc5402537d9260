/**
 * Reads `sluice.yaml`, checks it against `manifest.schema.json` and the cross-references the
 * schema cannot express, and returns the typed `Manifest` with every default applied.
 * Every problem is collected with the line and column of the YAML node it concerns, so one run
 * reports everything that needs fixing.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type YAMLError,
} from "yaml";
import { formatManifestIssues, ManifestError, type ManifestIssue, type ManifestIssueCode } from "./errors.ts";
import schemaJson from "./manifest.schema.json" with { type: "json" };
import type {
  AuthSettings,
  BatchSettings,
  JsonSchema,
  JwtSettings,
  KinesisSettings,
  Manifest,
  PipelineDef,
  SchemaDef,
  SinkDef,
  StreamDef,
  TransformStep,
} from "./types.ts";
import { STEP_KINDS } from "./types.ts";

// ajv-formats is CommonJS with a default export that ESM sees as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const DEFAULT_MANIFEST_PATH = "sluice.yaml";

/** The JSON Schema of `sluice.yaml` as users write it (no defaults filled in). */
export const manifestSchema: Readonly<Record<string, unknown>> = schemaJson;

/** Placeholders a sink prefix may use besides `{field:NAME}` and `{partitionKey:NAME}`. */
export const PREFIX_PLACEHOLDERS = ["stream", "pipeline", "yyyy", "MM", "dd", "HH", "mm"] as const;

/** Templates a `set` value (or a `route` value) may contain besides `{{field:NAME}}`. */
export const SET_TEMPLATES = ["now", "uuid"] as const;

export interface LoadManifestOptions {
  /** Names of the registered TypeScript transforms; `custom` steps must use one when given. */
  readonly customTransforms?: ReadonlySet<string>;
  readonly overrides?: {
    /** Replaces the app name, e.g. to give a test run its own resources. */
    readonly name?: string;
  };
  /** Receives findings that do not stop the load; `process.emitWarning` when absent. */
  readonly onWarning?: (warning: ManifestIssue, formatted: string) => void;
}

export interface ManifestCheck {
  /** Present when there are no errors. */
  readonly manifest?: Manifest;
  /** The manifest file as shown in messages (relative to the working directory when inside it). */
  readonly file: string;
  /** Errors, sorted by position. */
  readonly issues: readonly ManifestIssue[];
  /** Findings that do not stop the load, sorted by position. */
  readonly warnings: readonly ManifestIssue[];
}

/** Loads and validates a manifest; throws one `ManifestError` listing every error. */
export function loadManifest(
  path: string = DEFAULT_MANIFEST_PATH,
  options: LoadManifestOptions = {},
): Manifest {
  const check = checkManifest(path, options);
  const onWarning =
    options.onWarning ??
    ((_warning: ManifestIssue, formatted: string) => process.emitWarning(formatted, "SluiceManifestWarning"));
  for (const warning of check.warnings) onWarning(warning, formatManifestIssues(check.file, [warning]));
  if (check.manifest === undefined) throw new ManifestError(check.file, check.issues);
  return check.manifest;
}

/** Like `loadManifest`, but returns errors and warnings instead of throwing (for `sluice validate`). */
export function checkManifest(
  path: string = DEFAULT_MANIFEST_PATH,
  options: LoadManifestOptions = {},
): ManifestCheck {
  const absolute = resolve(path);
  const file = displayPath(absolute);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (error) {
    const issue = positionless("UNREADABLE", `cannot read the manifest: ${describeFsError(error)}`);
    return { file, issues: [issue], warnings: [] };
  }

  const lineCounter = new LineCounter();
  // merge: YAML 1.1 `<<` keys let users share blocks such as batch settings between pipelines.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const source = new SourceMap(doc, lineCounter, text);
  const report = new Reporter(source);
  for (const warning of doc.warnings) report.warnings.push(yamlIssue(warning, lineCounter, text));
  if (doc.errors.length > 0) {
    // Past a syntax error the tree is a guess; checking it would only add noise.
    for (const error of doc.errors) report.errors.push(yamlIssue(error, lineCounter, text));
    return report.result(file);
  }

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // toJS refuses alias bombs and aliases to anchors that come later.
    const message = error instanceof Error ? error.message : String(error);
    report.errors.push({ path: "", line: 1, column: 1, message, code: "YAML_SYNTAX" });
    return report.result(file);
  }
  if (data === null || data === undefined) {
    report.error(
      "MISSING_KEY",
      [],
      "the manifest is empty: it needs at least version, name, schemas and streams",
    );
    return report.result(file);
  }

  const badKinds = checkKinds(data, report);
  reportShapeErrors(data, badKinds, report);
  if (!isRecord(data)) return report.result(file);

  const schemas = checkReferences(data, absolute, report, options);
  checkFiniteNumbers(data, [], report);

  let name = typeof data.name === "string" ? data.name : "";
  const override = options.overrides?.name;
  if (override !== undefined) {
    if (NAME_PATTERN.test(override)) name = override;
    else report.error("INVALID_OVERRIDE", ["name"], `override ${JSON.stringify(override)} ${NAME_RULE}`);
  }

  if (report.errors.length > 0) return report.result(file);
  const manifest = buildManifest(data as unknown as RawManifest, name, absolute, schemas);
  return { ...report.result(file), manifest };
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{1,30}$/;
const NAME_RULE = "must be 2-31 lowercase letters, digits or hyphens, starting with a letter";
const FIELD_PATH = /^[^.\s{}]+(\.[^.\s{}]+)*$/;
const ROUTE_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

// ---------------------------------------------------------------------------------------------
// Positions

type Segment = string | number;
type Anchor = "key" | "value" | { readonly within: string };

interface Position {
  readonly line: number;
  readonly column: number;
}

/** Maps a path in the parsed data back to the YAML node it came from. */
class SourceMap {
  constructor(
    private readonly doc: ReturnType<typeof parseDocument>,
    private readonly lines: LineCounter,
    private readonly text: string,
  ) {}

  position(path: readonly Segment[], anchor: Anchor): Position {
    const { key, node, complete } = this.find(path);
    let offset: number | undefined;
    if (!complete || anchor === "key") {
      offset = key?.range?.[0] ?? node?.range?.[0];
    } else if (isScalar(node) && node.range && node.range[1] > node.range[0]) {
      offset = node.range[0];
      if (typeof anchor === "object") {
        // Point at the offending part of a one-line scalar, e.g. one placeholder of a prefix.
        const raw = this.text.slice(node.range[0], node.range[1]);
        const at = raw.indexOf(anchor.within);
        if (at >= 0 && !raw.slice(0, at).includes("\n")) offset += at;
      }
    } else if ((isMap(node) || isSeq(node)) && node.flow) {
      offset = node.range?.[0];
    } else {
      // A block collection starts on the line after its key; the key is where people look.
      offset = key?.range?.[0] ?? node?.range?.[0];
    }
    if (offset === undefined) return { line: 1, column: 1 };
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private find(path: readonly Segment[]): { key?: Node; node?: Node; complete: boolean } {
    let node: unknown = this.doc.contents;
    let key: Node | undefined;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      let next: unknown;
      let nextKey: Node | undefined;
      let found = false;
      if (isMap(node)) {
        for (const pair of node.items) {
          const name = isScalar(pair.key) ? String(pair.key.value) : pair.key;
          if (name === String(segment)) {
            next = pair.value;
            nextKey = isNode(pair.key) ? pair.key : undefined;
            found = true;
            break;
          }
        }
      } else if (isSeq(node) && typeof segment === "number" && segment < node.items.length) {
        next = node.items[segment];
        found = true;
      }
      // Keys that came in through a `<<` merge are not in this map: stop at the deepest match.
      if (!found) return { key, node: asNode(node), complete: false };
      node = next;
      key = nextKey;
    }
    return { key, node: asNode(node), complete: true };
  }
}

function asNode(value: unknown): Node | undefined {
  return isNode(value) ? value : undefined;
}

/** `pipelines[0].steps[1].rename["a.b"]` */
export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

function pointer(path: readonly Segment[]): string {
  return path.map((segment) => `/${String(segment).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

/** Turns an ajv instancePath into segments, using the data to tell list indexes from keys. */
function segmentsOf(instancePath: string, data: unknown): Segment[] {
  if (instancePath === "") return [];
  const out: Segment[] = [];
  let value = data;
  for (const raw of instancePath.slice(1).split("/")) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(value)) {
      const index = Number(part);
      out.push(index);
      value = value[index];
    } else {
      out.push(part);
      value = isRecord(value) ? value[part] : undefined;
    }
  }
  return out;
}

function valueAt(data: unknown, path: readonly Segment[]): unknown {
  let value = data;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === "number") value = value[segment];
    else if (isRecord(value)) value = value[String(segment)];
    else return undefined;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Reporting

class Reporter {
  readonly errors: ManifestIssue[] = [];
  readonly warnings: ManifestIssue[] = [];

  constructor(private readonly source: SourceMap) {}

  error(code: ManifestIssueCode, path: readonly Segment[], message: string, anchor: Anchor = "value"): void {
    this.errors.push(this.issue(code, path, message, anchor));
  }

  warn(code: ManifestIssueCode, path: readonly Segment[], message: string, anchor: Anchor = "value"): void {
    this.warnings.push(this.issue(code, path, message, anchor));
  }

  /** Whether an error was already reported at exactly this path. */
  hasErrorAt(path: readonly Segment[]): boolean {
    const formatted = formatPath(path);
    return this.errors.some((issue) => issue.path === formatted);
  }

  result(file: string): ManifestCheck {
    return { file, issues: sortIssues(dedupe(this.errors)), warnings: sortIssues(dedupe(this.warnings)) };
  }

  private issue(
    code: ManifestIssueCode,
    path: readonly Segment[],
    message: string,
    anchor: Anchor,
  ): ManifestIssue {
    const { line, column } = this.source.position(path, anchor);
    return { path: formatPath(path), line, column, message, code };
  }
}

function positionless(code: ManifestIssueCode, message: string): ManifestIssue {
  return { path: "", line: 0, column: 0, message, code };
}

function yamlIssue(error: YAMLError, lines: LineCounter, text: string): ManifestIssue {
  const { line, col } = lines.linePos(error.pos[0]);
  let message = error.message;
  if (error.code === "DUPLICATE_KEY") {
    const key = /^[^:\n]*/
      .exec(text.slice(error.pos[0]))?.[0]
      .trim()
      .replace(/^["']|["']$/g, "");
    message = key ? `duplicate key ${JSON.stringify(key)}` : "duplicate key";
  } else if (error.code === "MULTIPLE_DOCS") {
    message = 'a manifest is a single YAML document; remove the "---" separator';
  }
  return { path: "", line, column: col, message, code: "YAML_SYNTAX" };
}

function dedupe(issues: readonly ManifestIssue[]): ManifestIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.code}\u0000${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortIssues(issues: ManifestIssue[]): ManifestIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.column - b.column);
}

function displayPath(absolute: string): string {
  const rel = relative(process.cwd(), absolute);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : absolute;
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "it is a directory";
  if (code === "EACCES") return "permission denied";
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Shape (JSON Schema) errors

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

function reportShapeErrors(data: unknown, badKinds: ReadonlySet<string>, report: Reporter): void {
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

// ---------------------------------------------------------------------------------------------
// Step and condition kinds

const STEP_EXTRAS = new Set(["onError", "options"]);
const CONDITION_KINDS = ["field", "and", "or", "not"] as const;
const CONDITION_EXTRAS = new Set(["op", "value"]);

/**
 * Reports steps and filter conditions without exactly one kind key, and returns their ajv
 * instance paths so the schema's oneOf/if noise for them is dropped.
 */
function checkKinds(data: unknown, report: Reporter): Set<string> {
  const bad = new Set<string>();
  if (!isRecord(data)) return bad;
  list(data.pipelines).forEach((pipeline, p) => {
    if (!isRecord(pipeline)) return;
    list(pipeline.steps).forEach((step, s) => {
      const path: Segment[] = ["pipelines", p, "steps", s];
      if (!isRecord(step)) return;
      if (!checkKind(step, path, STEP_KINDS, STEP_EXTRAS, "step", report)) bad.add(pointer(path));
      if ("filter" in step) checkConditionKinds(step.filter, [...path, "filter"], report, bad);
    });
  });
  return bad;
}

function checkConditionKinds(condition: unknown, path: Segment[], report: Reporter, bad: Set<string>): void {
  if (!isRecord(condition)) return;
  if (!checkKind(condition, path, CONDITION_KINDS, CONDITION_EXTRAS, "condition", report))
    bad.add(pointer(path));
  for (const junction of ["and", "or"] as const) {
    list(condition[junction]).forEach((inner, i) => {
      checkConditionKinds(inner, [...path, junction, i], report, bad);
    });
  }
  if ("not" in condition) checkConditionKinds(condition.not, [...path, "not"], report, bad);
}

function checkKind(
  object: Record<string, unknown>,
  path: Segment[],
  kinds: readonly string[],
  extras: ReadonlySet<string>,
  what: "step" | "condition",
  report: Reporter,
): boolean {
  const keys = Object.keys(object);
  const present = keys.filter((key) => kinds.includes(key));
  if (present.length === 1) return true;
  const expected = kinds.map((kind) => JSON.stringify(kind)).join(", ");
  if (present.length > 1) {
    const found = present.map((kind) => JSON.stringify(kind)).join(" and ");
    const message = `a ${what} has exactly one kind; found ${found}`;
    report.error("STEP_KIND", [...path, present[1]!], message, "key");
    return false;
  }
  const unknown = keys.find((key) => !extras.has(key));
  if (unknown === undefined) {
    report.error("STEP_KIND", path, `a ${what} needs one of ${expected}`, "key");
  } else {
    const guess = closest(unknown, kinds);
    const tail =
      guess === undefined ? `; expected one of ${expected}` : `; did you mean ${JSON.stringify(guess)}?`;
    report.error(
      "STEP_KIND",
      [...path, unknown],
      `unknown ${what} kind ${JSON.stringify(unknown)}${tail}`,
      "key",
    );
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Cross-references and semantics

type Verdict = "yes" | "no" | "maybe";

/** Checks what the JSON Schema cannot; returns the parsed schema files by schema name. */
function checkReferences(
  data: Record<string, unknown>,
  manifestPath: string,
  report: Reporter,
  options: LoadManifestOptions,
): Map<string, JsonSchema> {
  const schemaNames = uniqueNames(data, "schemas", "schema", report);
  const streamNames = uniqueNames(data, "streams", "stream", report);
  uniqueNames(data, "pipelines", "pipeline", report);
  const sinkNames = uniqueNames(data, "sinks", "sink", report);

  const schemas = new Map<string, JsonSchema>();
  list(data.schemas).forEach((entry, i) => {
    if (!isRecord(entry) || typeof entry.file !== "string") return;
    const loaded = loadSchemaFile(entry.file, manifestPath, ["schemas", i, "file"], report);
    if (loaded !== undefined && typeof entry.name === "string" && !schemas.has(entry.name)) {
      schemas.set(entry.name, loaded);
    }
  });

  const streamSchemas = new Map<string, string>();
  list(data.streams).forEach((stream, i) => {
    if (!isRecord(stream) || typeof stream.schema !== "string") return;
    if (typeof stream.name === "string") streamSchemas.set(stream.name, stream.schema);
    if (!schemaNames.has(stream.schema)) {
      const message = `unknown schema ${JSON.stringify(stream.schema)}${hint(stream.schema, [...schemaNames.keys()], "declared")}`;
      report.error("UNKNOWN_REFERENCE", ["streams", i, "schema"], message);
      return;
    }
    const schema = schemas.get(stream.schema);
    for (const key of ["eventTimeField", "partitionKey"] as const) {
      const field = stream[key];
      if (schema === undefined || typeof field !== "string" || !FIELD_PATH.test(field)) continue;
      if (declares(schema, field.split(".")) === "no") {
        const message = `field ${JSON.stringify(field)} is not declared by schema ${JSON.stringify(stream.schema)}`;
        report.warn("UNDECLARED_FIELD", ["streams", i, key], message);
      }
    }
  });

  list(data.pipelines).forEach((pipeline, p) => {
    if (!isRecord(pipeline)) return;
    list(pipeline.sources).forEach((source, s) => {
      if (typeof source === "string" && !streamNames.has(source)) {
        const message = `unknown stream ${JSON.stringify(source)}${hint(source, [...streamNames.keys()], "declared")}`;
        report.error("UNKNOWN_REFERENCE", ["pipelines", p, "sources", s], message);
      }
    });
    if (typeof pipeline.sink === "string" && !sinkNames.has(pipeline.sink)) {
      const message = `unknown sink ${JSON.stringify(pipeline.sink)}${hint(pipeline.sink, [...sinkNames.keys()], "declared")}`;
      report.error("UNKNOWN_REFERENCE", ["pipelines", p, "sink"], message);
    }
    if (typeof pipeline.schema === "string" && !schemaNames.has(pipeline.schema)) {
      const message = `unknown schema ${JSON.stringify(pipeline.schema)}${hint(pipeline.schema, [...schemaNames.keys()], "declared")}`;
      report.error("UNKNOWN_REFERENCE", ["pipelines", p, "schema"], message);
    }
    list(pipeline.steps).forEach((step, s) => {
      if (isRecord(step)) checkStep(step, ["pipelines", p, "steps", s], report, options);
    });
  });

  list(data.sinks).forEach((sink, i) => {
    if (!isRecord(sink) || typeof sink.name !== "string" || typeof sink.prefix !== "string") return;
    const feeders = list(data.pipelines).filter(
      (pipeline): pipeline is Record<string, unknown> => isRecord(pipeline) && pipeline.sink === sink.name,
    );
    checkPrefix(sink.prefix, ["sinks", i, "prefix"], feeders, streamSchemas, schemas, report);
  });

  const kinesis = data.kinesis;
  if (isRecord(kinesis) && kinesis.shards !== undefined && kinesis.mode !== "provisioned") {
    report.warn("IGNORED_SETTING", ["kinesis", "shards"], 'only applies when mode is "provisioned"', "key");
  }
  checkAuth(data.auth, report);
  return schemas;
}

/** Turning authentication off must be loud: every caller then acts as admin. */
function checkAuth(auth: unknown, report: Reporter): void {
  if (!isRecord(auth) || auth.apiKeys !== false || auth.jwt !== undefined) return;
  report.warn(
    "INVALID_VALUE",
    ["auth", "apiKeys"],
    "with no jwt section this turns authentication off: every caller acts as admin (for local experiments only)",
  );
}

/** Reports repeated names in one section; returns each name with the index that declares it. */
function uniqueNames(
  data: Record<string, unknown>,
  section: string,
  what: string,
  report: Reporter,
): Map<string, number> {
  const first = new Map<string, number>();
  list(data[section]).forEach((item, i) => {
    if (!isRecord(item) || typeof item.name !== "string") return;
    const earlier = first.get(item.name);
    if (earlier === undefined) {
      first.set(item.name, i);
      return;
    }
    const message = `duplicate ${what} name ${JSON.stringify(item.name)} (first declared as ${section}[${earlier}])`;
    report.error("DUPLICATE_NAME", [section, i, "name"], message);
  });
  return first;
}

function loadSchemaFile(
  file: string,
  manifestPath: string,
  path: Segment[],
  report: Reporter,
): JsonSchema | undefined {
  const absolute = resolve(dirname(manifestPath), file);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (error) {
    report.error(
      "SCHEMA_FILE",
      path,
      `cannot read schema file ${displayPath(absolute)}: ${describeFsError(error)}`,
    );
    return undefined;
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    report.error("SCHEMA_FILE", path, `schema file ${file} is not valid JSON: ${reason}`);
    return undefined;
  }
  if (!isRecord(schema)) {
    report.error("SCHEMA_FILE", path, `schema file ${file} must hold a JSON object`);
    return undefined;
  }
  const problem = compileProblem(schema);
  if (problem !== undefined) {
    report.error("SCHEMA_FILE", path, `schema file ${file} is not a usable JSON Schema: ${problem}`);
    return undefined;
  }
  return schema;
}

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;
const DRAFT_2020 = /^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/;

/** Compiles like the runtime validators (non-strict, formats on); returns why it fails. */
function compileProblem(schema: JsonSchema): string | undefined {
  const dialect = schema.$schema;
  const is2020 = typeof dialect === "string" && DRAFT_2020.test(dialect);
  if (dialect !== undefined && !is2020 && !(typeof dialect === "string" && DRAFT_07.test(dialect))) {
    return `unsupported $schema ${JSON.stringify(dialect)}; use draft-07 or 2020-12`;
  }
  const silent = { log() {}, warn() {}, error() {} };
  const options = { allErrors: true, strict: false, validateFormats: true, logger: silent } as const;
  // A fresh instance per file: two files may share an $id without clashing.
  const ajv = is2020 ? (new Ajv2020(options) as unknown as Ajv) : new Ajv(options);
  addFormats(ajv);
  try {
    ajv.compile(schema);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function checkStep(
  step: Record<string, unknown>,
  path: Segment[],
  report: Reporter,
  options: LoadManifestOptions,
): void {
  const registered = options.customTransforms;
  if (registered !== undefined && typeof step.custom === "string" && !registered.has(step.custom)) {
    const message = `unknown custom transform ${JSON.stringify(step.custom)}${hint(step.custom, [...registered], "registered")}`;
    report.error("UNKNOWN_TRANSFORM", [...path, "custom"], message);
  }
  if ("filter" in step) checkRegexes(step.filter, [...path, "filter"], report);
  for (const kind of ["set", "route"] as const) {
    const map = step[kind];
    if (!isRecord(map)) continue;
    for (const [key, value] of Object.entries(map)) {
      if (typeof value === "string") checkTemplates(value, [...path, kind, key], report);
    }
  }
}

function checkRegexes(condition: unknown, path: Segment[], report: Reporter): void {
  if (!isRecord(condition)) return;
  if (condition.op === "regex" && typeof condition.value === "string") {
    try {
      new RegExp(condition.value);
    } catch (error) {
      const reason =
        error instanceof Error ? error.message.replace(/^Invalid regular expression: \/.*\/\w*: /, "") : "";
      report.error("INVALID_REGEX", [...path, "value"], `is not a valid regular expression: ${reason}`);
    }
  }
  for (const junction of ["and", "or"] as const) {
    list(condition[junction]).forEach((inner, i) => {
      checkRegexes(inner, [...path, junction, i], report);
    });
  }
  if ("not" in condition) checkRegexes(condition.not, [...path, "not"], report);
}

function checkTemplates(value: string, path: Segment[], report: Reporter): void {
  for (const match of value.matchAll(/\{\{([^{}]*)\}\}/g)) {
    const name = match[1]!.trim();
    if ((SET_TEMPLATES as readonly string[]).includes(name)) continue;
    if (name.startsWith("field:") && FIELD_PATH.test(name.slice("field:".length))) continue;
    const allowed = [...SET_TEMPLATES.map((template) => `{{${template}}}`), "{{field:NAME}}"].join(", ");
    const guess = closest(name, SET_TEMPLATES);
    const tail = guess === undefined ? `; allowed: ${allowed}` : `; did you mean "{{${guess}}}"?`;
    report.error("INVALID_TEMPLATE", path, `unknown template ${JSON.stringify(match[0])}${tail}`, {
      within: match[0],
    });
  }
}

/** Checks a sink prefix's placeholders and that something can fill `{field:}`/`{partitionKey:}`. */
function checkPrefix(
  prefix: string,
  path: Segment[],
  feeders: readonly Record<string, unknown>[],
  streamSchemas: ReadonlyMap<string, string>,
  schemas: ReadonlyMap<string, JsonSchema>,
  report: Reporter,
): void {
  const allowed = [
    ...PREFIX_PLACEHOLDERS.map((name) => `{${name}}`),
    "{field:NAME}",
    "{partitionKey:NAME}",
  ].join(", ");
  let at = 0;
  while (at < prefix.length) {
    const open = prefix.indexOf("{", at);
    const close = prefix.indexOf("}", at);
    if (open < 0 && close < 0) break;
    if (close >= 0 && (open < 0 || close < open)) {
      report.error("PREFIX_PLACEHOLDER", path, 'has a "}" without a matching "{"', {
        within: prefix.slice(at),
      });
      at = close + 1;
      continue;
    }
    const end = prefix.indexOf("}", open + 1);
    const nested = prefix.indexOf("{", open + 1);
    if (end < 0 || (nested >= 0 && nested < end)) {
      report.error("PREFIX_PLACEHOLDER", path, 'has a "{" without a matching "}"', {
        within: prefix.slice(open),
      });
      at = open + 1;
      continue;
    }
    const token = prefix.slice(open, end + 1);
    const name = token.slice(1, -1);
    at = end + 1;
    const within = { within: token };
    if ((PREFIX_PLACEHOLDERS as readonly string[]).includes(name)) continue;
    const colon = name.indexOf(":");
    const kind = colon < 0 ? name : name.slice(0, colon);
    const argument = colon < 0 ? "" : name.slice(colon + 1);
    if (kind === "field") {
      if (!FIELD_PATH.test(argument)) {
        report.error(
          "PREFIX_PLACEHOLDER",
          path,
          `${token} needs a field path, e.g. {field:customer.region}`,
          within,
        );
      } else {
        checkPrefixField(token, argument, path, feeders, streamSchemas, schemas, report);
      }
      continue;
    }
    if (kind === "partitionKey") {
      if (!ROUTE_KEY.test(argument)) {
        report.error(
          "PREFIX_PLACEHOLDER",
          path,
          `${token} needs a partition key name, e.g. {partitionKey:region}`,
          within,
        );
      } else {
        checkPrefixPartitionKey(token, argument, path, feeders, report);
      }
      continue;
    }
    const guess = closest(name, [...PREFIX_PLACEHOLDERS, "field:", "partitionKey:"]);
    const tail = guess === undefined ? `; allowed: ${allowed}` : `; did you mean "{${guess}}"?`;
    report.error("PREFIX_PLACEHOLDER", path, `unknown placeholder ${JSON.stringify(token)}${tail}`, within);
  }
}

/**
 * `{field:NAME}` partitions by a record field, so the records reaching the sink should have it:
 * an error when nothing feeding the sink can produce it, a warning when only some can.
 */
function checkPrefixField(
  token: string,
  field: string,
  path: Segment[],
  feeders: readonly Record<string, unknown>[],
  streamSchemas: ReadonlyMap<string, string>,
  schemas: ReadonlyMap<string, JsonSchema>,
  report: Reporter,
): void {
  const lacking: string[] = [];
  let any = false;
  for (const pipeline of feeders) {
    const produced = pipelineProduces(pipeline, field);
    for (const source of list(pipeline.sources)) {
      if (typeof source !== "string") continue;
      const schemaName = streamSchemas.get(source);
      const schema = schemaName === undefined ? undefined : schemas.get(schemaName);
      const verdict: Verdict =
        produced !== "no" ? produced : schema === undefined ? "maybe" : declares(schema, field.split("."));
      if (verdict === "no") lacking.push(source);
      else any = true;
    }
  }
  const streams = [...new Set(lacking)].map((stream) => JSON.stringify(stream)).join(", ");
  if (lacking.length > 0 && !any) {
    const message = `${token}: no schema of the streams feeding this sink (${streams}) declares ${JSON.stringify(field)}`;
    report.error("UNDECLARED_FIELD", path, message, { within: token });
  } else if (lacking.length > 0) {
    const message = `${token}: ${JSON.stringify(field)} is not declared by the schema of ${streams}`;
    report.warn("UNDECLARED_FIELD", path, message, { within: token });
  }
}

function checkPrefixPartitionKey(
  token: string,
  key: string,
  path: Segment[],
  feeders: readonly Record<string, unknown>[],
  report: Reporter,
): void {
  if (feeders.length === 0) return;
  const missing = feeders.filter((pipeline) => pipelineRoutes(pipeline, key) === "no");
  if (missing.length === 0) return;
  const names = missing.map((pipeline) => JSON.stringify(pipeline.name)).join(", ");
  const message = `${token}: no route step sets partition key ${JSON.stringify(key)} in pipeline ${names}`;
  if (missing.length === feeders.length) report.error("PREFIX_PLACEHOLDER", path, message, { within: token });
  else report.warn("PREFIX_PLACEHOLDER", path, message, { within: token });
}

/** Whether a pipeline's own steps put `field` into its records; external code may do anything. */
function pipelineProduces(pipeline: Record<string, unknown>, field: string): Verdict {
  if (pipeline.transformerArn !== undefined) return "maybe";
  const covers = (target: unknown): boolean =>
    typeof target === "string" && (target === field || field.startsWith(`${target}.`));
  let verdict: Verdict = "no";
  for (const step of list(pipeline.steps)) {
    if (!isRecord(step)) continue;
    if (step.custom !== undefined) verdict = "maybe";
    if (isRecord(step.set) && Object.keys(step.set).some(covers)) return "yes";
    if (isRecord(step.rename) && Object.values(step.rename).some(covers)) return "yes";
    if (isRecord(step.timestamp) && covers(step.timestamp.to)) return "yes";
  }
  return verdict;
}

function pipelineRoutes(pipeline: Record<string, unknown>, key: string): Verdict {
  if (pipeline.transformerArn !== undefined) return "maybe";
  let verdict: Verdict = "no";
  for (const step of list(pipeline.steps)) {
    if (!isRecord(step)) continue;
    if (step.custom !== undefined) verdict = "maybe";
    if (isRecord(step.route) && key in step.route) return "yes";
  }
  return verdict;
}

/** Whether a JSON Schema declares the dotted property path; "maybe" where it can't tell. */
function declares(schema: unknown, path: readonly string[]): Verdict {
  if (path.length === 0) return "yes";
  if (schema === true) return "maybe";
  if (!isRecord(schema)) return "no";
  const [head, ...rest] = path as [string, ...string[]];
  let verdict: Verdict = "no";
  const merge = (next: Verdict): void => {
    if (next === "yes" || (next === "maybe" && verdict === "no")) verdict = next;
  };
  if (isRecord(schema.properties) && Object.hasOwn(schema.properties, head))
    merge(declares(schema.properties[head], rest));
  if (/^\d+$/.test(head) && schema.items !== undefined) merge(declares(schema.items, rest));
  for (const branch of ["allOf", "anyOf", "oneOf"] as const) {
    for (const sub of list(schema[branch])) merge(declares(sub, path));
  }
  for (const sub of [schema.then, schema.else]) if (sub !== undefined) merge(declares(sub, path));
  if (verdict === "no" && (schema.$ref !== undefined || schema.$dynamicRef !== undefined)) verdict = "maybe";
  return verdict;
}

/** Numbers from YAML's `.inf`/`.nan` would not survive JSON; the manifest must. */
function checkFiniteNumbers(value: unknown, path: Segment[], report: Reporter): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value) && !report.hasErrorAt(path))
      report.error("INVALID_VALUE", path, "must be a finite number");
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      checkFiniteNumbers(item, [...path, i], report);
    });
  } else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) checkFiniteNumbers(item, [...path, key], report);
  }
}

// ---------------------------------------------------------------------------------------------
// Suggestions

/** `; did you mean "x"?` when one candidate is close, else the list of candidates. */
function hint(value: string, candidates: readonly string[], label = "allowed here"): string {
  const guess = closest(value, candidates);
  if (guess !== undefined) return `; did you mean ${JSON.stringify(guess)}?`;
  if (candidates.length === 0) return label === "allowed here" ? "" : ` (none ${label})`;
  return ` (${label}: ${candidates.join(", ")})`;
}

function closest(value: string, candidates: readonly string[]): string | undefined {
  const lower = value.toLowerCase();
  const sameLetters = candidates.filter((candidate) => candidate.toLowerCase() === lower);
  if (sameLetters.length === 1) return sameLetters[0];
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(value.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: a swap of two neighbours counts as one typo. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

// ---------------------------------------------------------------------------------------------
// Typed output

interface RawManifest {
  readonly name: string;
  readonly kinesis?: Partial<KinesisSettings>;
  readonly schemas: readonly { readonly name: string; readonly namespace?: string; readonly file: string }[];
  readonly streams: readonly (Omit<StreamDef, "idempotencyTtlSeconds" | "maxFutureSkewSeconds"> &
    Partial<Pick<StreamDef, "idempotencyTtlSeconds" | "maxFutureSkewSeconds">>)[];
  readonly pipelines?: readonly (Omit<PipelineDef, "steps" | "batch"> & {
    readonly steps?: readonly TransformStep[];
    readonly batch?: Partial<BatchSettings>;
  })[];
  readonly sinks?: readonly (Omit<SinkDef, "compression" | "rowGroupSize" | "roll"> &
    Partial<Pick<SinkDef, "compression" | "rowGroupSize">> & { readonly roll?: Partial<SinkDef["roll"]> })[];
  readonly auth?: {
    readonly apiKeys?: boolean;
    readonly jwt?: Omit<JwtSettings, "leewaySeconds" | "rolesClaim" | "streamsClaim"> &
      Partial<Pick<JwtSettings, "leewaySeconds" | "rolesClaim" | "streamsClaim">>;
  };
}

/** Applies the defaults documented in types.ts; optional keys stay absent rather than undefined. */
function buildManifest(
  raw: RawManifest,
  name: string,
  path: string,
  schemas: ReadonlyMap<string, JsonSchema>,
): Manifest {
  const kinesis: KinesisSettings = {
    mode: raw.kinesis?.mode ?? "on-demand",
    shards: raw.kinesis?.shards ?? 1,
    retentionHours: raw.kinesis?.retentionHours ?? 24,
  };
  const schemaDefs: SchemaDef[] = raw.schemas.map((schema) => ({
    name: schema.name,
    namespace: schema.namespace ?? "default",
    file: schema.file,
    schema: schemas.get(schema.name) ?? {},
  }));
  const streams: StreamDef[] = raw.streams.map((stream) => ({
    name: stream.name,
    schema: stream.schema,
    ...(stream.eventTimeField === undefined ? {} : { eventTimeField: stream.eventTimeField }),
    ...(stream.partitionKey === undefined ? {} : { partitionKey: stream.partitionKey }),
    idempotencyTtlSeconds: stream.idempotencyTtlSeconds ?? 86400,
    maxFutureSkewSeconds: stream.maxFutureSkewSeconds ?? 300,
  }));
  const pipelines: PipelineDef[] = (raw.pipelines ?? []).map((pipeline) => ({
    name: pipeline.name,
    sources: [...pipeline.sources],
    steps: [...(pipeline.steps ?? [])],
    ...(pipeline.transformerArn === undefined ? {} : { transformerArn: pipeline.transformerArn }),
    sink: pipeline.sink,
    ...(pipeline.schema === undefined ? {} : { schema: pipeline.schema }),
    batch: {
      size: pipeline.batch?.size ?? 1000,
      windowSeconds: pipeline.batch?.windowSeconds ?? 5,
      maxRetries: pipeline.batch?.maxRetries ?? 5,
      bisectOnError: pipeline.batch?.bisectOnError ?? true,
    },
  }));
  const sinks: SinkDef[] = (raw.sinks ?? []).map((sink) => ({
    name: sink.name,
    type: sink.type,
    ...(sink.bucket === undefined ? {} : { bucket: sink.bucket }),
    prefix: sink.prefix,
    compression: sink.compression ?? "zstd",
    rowGroupSize: sink.rowGroupSize ?? 100000,
    roll: {
      maxRecords: sink.roll?.maxRecords ?? 100000,
      maxBytes: sink.roll?.maxBytes ?? 67108864,
    },
    ...(sink.kmsKeyArn === undefined ? {} : { kmsKeyArn: sink.kmsKeyArn }),
  }));
  const jwt = raw.auth?.jwt;
  const auth: AuthSettings = {
    apiKeys: raw.auth?.apiKeys ?? true,
    ...(jwt === undefined
      ? {}
      : {
          jwt: {
            jwksUrl: jwt.jwksUrl,
            issuer: jwt.issuer,
            audience: typeof jwt.audience === "string" ? jwt.audience : [...jwt.audience],
            leewaySeconds: jwt.leewaySeconds ?? 60,
            rolesClaim: jwt.rolesClaim ?? "roles",
            streamsClaim: jwt.streamsClaim ?? "sluice_streams",
          },
        }),
  };
  return { version: 1, name, kinesis, schemas: schemaDefs, streams, pipelines, sinks, auth, path };
}

// ---------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}
