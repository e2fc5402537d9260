/**
 * Declarative transform steps compiled once per container into one `apply` per record. All
 * parsing (paths, regexes, templates, time formats, custom lookups) happens in `compileSteps`,
 * which throws on anything malformed; `apply` never throws and never changes its input.
 */

import { createHash, randomUUID } from "node:crypto";
import type { FilterCondition, TransformStep } from "../core/manifest/types.ts";
import { STEP_KINDS } from "../core/manifest/types.ts";
import { customTransform } from "./custom.ts";
import { compileCondition } from "./filter.ts";
import {
  compilePath,
  Draft,
  deepCopy,
  defineField,
  type FieldPath,
  isObject,
  type JsonObject,
} from "./paths.ts";
import {
  compileTimeFormat,
  DEFAULT_TIME_FORMATS,
  parseEpochAuto,
  parseIso,
  type TimeParser,
  toNumber,
} from "./time.ts";

export interface ApplyContext {
  /** The invocation's clock, for `{{now}}`. */
  readonly now: Date;
  readonly recordId: string;
}

export type StepOutcome =
  | {
      readonly result: "Ok";
      readonly data: Record<string, unknown>;
      readonly partitionKeys?: Record<string, string>;
    }
  | { readonly result: "Dropped"; readonly reason: string }
  | { readonly result: "ProcessingFailed"; readonly code: string; readonly message: string };

export interface CompiledPipeline {
  readonly stepCount: number;
  apply(record: Record<string, unknown>, ctx: ApplyContext): StepOutcome;
}

type Halt = Exclude<StepOutcome, { result: "Ok" }>;

/** Per-record state shared by the steps of one `apply`. */
interface Run {
  readonly draft: Draft;
  readonly ctx: ApplyContext;
  partitionKeys: Record<string, string> | undefined;
  nowIso: string | undefined;
}

type StepFn = (run: Run) => Halt | undefined;
type Resolver = (run: Run) => unknown;

export const REDACTED = "***REDACTED***";
const MESSAGE_LIMIT = 200;

function truncate(text: string): string {
  return text.length > MESSAGE_LIMIT ? text.slice(0, MESSAGE_LIMIT) : text;
}

function fullMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorMessage(error: unknown): string {
  return truncate(fullMessage(error));
}

function failed(code: string, message: string): Halt {
  return { result: "ProcessingFailed", code, message };
}

// ---------------------------------------------------------------------------------------------
// Templates: {{now}}, {{uuid}}, {{field:a.b}}

const TEMPLATE = /\{\{([^{}]*)\}\}/g;

const nowIso: Resolver = (run) => {
  run.nowIso ??= run.ctx.now.toISOString();
  return run.nowIso;
};

function compileToken(token: string, where: string): Resolver {
  const name = token.trim();
  if (name === "now") return nowIso;
  if (name === "uuid") return () => randomUUID();
  if (name.startsWith("field:")) {
    const path = compilePath(name.slice("field:".length).trim());
    return (run) => run.draft.get(path);
  }
  throw new Error(`${where}: unknown template {{${token}}}; allowed: {{now}}, {{uuid}}, {{field:NAME}}`);
}

/** Text of a value inside a larger string; undefined (no value) for missing and null. */
type Render = (value: unknown) => string | undefined;

const renderAny: Render = (value) =>
  value === undefined || value === null
    ? undefined
    : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);

const renderScalar: Render = (value) =>
  typeof value === "string"
    ? value
    : typeof value === "number" || typeof value === "boolean"
      ? String(value)
      : undefined;

/**
 * Compiles a string with templates, or returns undefined when it has none. A string that is
 * exactly one template yields the referenced value itself, keeping its type; otherwise the
 * parts are joined, and any part without a value leaves the whole string without one.
 */
function compileTemplate(text: string, where: string, render: Render): Resolver | undefined {
  const matches = [...text.matchAll(TEMPLATE)];
  if (matches.length === 0) return undefined;
  if (matches.length === 1 && matches[0]![0] === text) return compileToken(matches[0]![1]!, where);
  const parts: (string | Resolver)[] = [];
  let last = 0;
  for (const m of matches) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(compileToken(m[1]!, where));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return (run) => {
    let out = "";
    for (const part of parts) {
      if (typeof part === "string") {
        out += part;
        continue;
      }
      const piece = render(part(run));
      if (piece === undefined) return undefined;
      out += piece;
    }
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// Coercion

const FAIL = Symbol("coerce failed");
type Target = "string" | "number" | "integer" | "boolean" | "timestamp";
type Converter = (value: unknown) => unknown;

const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, false: false, "1": true, "0": false };

const CONVERTERS: Readonly<Record<Target, Converter>> = {
  string: (v) => (typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v)),
  number: (v) => toNumber(v) ?? FAIL,
  integer: (v) => {
    const n = toNumber(v);
    // Past 2^53 the digits are already lost; refusing beats writing a silently different id.
    return n !== undefined && Number.isSafeInteger(n) ? n : FAIL;
  },
  boolean: (v) => {
    if (typeof v === "boolean") return v;
    if (v === 1 || v === 0) return v === 1;
    if (typeof v === "string") {
      const key = v.trim().toLowerCase();
      if (Object.hasOwn(BOOLEANS, key)) return BOOLEANS[key];
    }
    return FAIL;
  },
  timestamp: (v) => {
    const ms = typeof v === "string" ? parseIso(v) : parseEpochAuto(v);
    return ms === undefined ? FAIL : new Date(ms).toISOString();
  },
};

// ---------------------------------------------------------------------------------------------
// Step compilers

function entriesOf(value: unknown, where: string): [string, unknown][] {
  if (!isObject(value)) throw new Error(`${where}: expected a mapping`);
  const entries = Object.entries(value);
  if (entries.length === 0) throw new Error(`${where}: expected at least one entry`);
  return entries;
}

function pathsOf(value: unknown, where: string): FieldPath[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new Error(`${where}: expected a list of field paths`);
  return value.map((p: unknown) => compilePath(p as string));
}

function compileFilter(condition: FilterCondition, where: string): StepFn {
  const matches = compileCondition(condition, where);
  const dropped: Halt = { result: "Dropped", reason: `${where}: record did not match` };
  return (run) => (matches(run.draft.root) ? undefined : dropped);
}

function compileRename(map: unknown, where: string): StepFn {
  const pairs = entriesOf(map, where).map(
    ([from, to]) => [compilePath(from), compilePath(to as string)] as const,
  );
  // All sources are read before anything moves, so `{a: b, b: a}` swaps instead of clobbering.
  return (run) => {
    const moved: [FieldPath, unknown][] = [];
    for (const [from, to] of pairs) {
      const value = run.draft.get(from);
      if (value !== undefined) moved.push([to, value]);
    }
    if (moved.length === 0) return undefined;
    for (const [from] of pairs) run.draft.delete(from);
    for (const [to, value] of moved) run.draft.set(to, value);
    return undefined;
  };
}

function compileProject(list: unknown, where: string): StepFn {
  const paths = pathsOf(list, where);
  return (run) => {
    const kept = new Draft({});
    for (const path of paths) {
      const value = run.draft.get(path);
      if (value !== undefined) kept.set(path, value);
    }
    run.draft.reset(kept.root);
    return undefined;
  };
}

function compileSet(map: unknown, where: string): StepFn {
  const assignments = entriesOf(map, where).map(([key, value]): [FieldPath, Resolver] => {
    const path = compilePath(key);
    const at = `${where} ${key}`;
    const template = typeof value === "string" ? compileTemplate(value, at, renderAny) : undefined;
    if (template !== undefined) {
      // A copied object must not alias a container a later step edits in place.
      return [path, (run) => deepCopy(template(run))];
    }
    if (typeof value === "object" && value !== null) {
      const constant = deepCopy(value);
      return [path, () => deepCopy(constant)];
    }
    return [path, () => value];
  });
  // Values are computed before any is written, so one entry never sees another's result.
  return (run) => {
    const values = assignments.map(([, resolve]) => resolve(run));
    for (let i = 0; i < assignments.length; i++) {
      if (values[i] !== undefined) run.draft.set(assignments[i]![0], values[i]);
    }
    return undefined;
  };
}

function compileDrop(list: unknown, where: string): StepFn {
  const paths = pathsOf(list, where);
  return (run) => {
    for (const path of paths) run.draft.delete(path);
    return undefined;
  };
}

function compileCoerce(map: unknown, onError: unknown, where: string): StepFn {
  const mode = onError ?? "fail";
  if (mode !== "fail" && mode !== "null" && mode !== "drop") {
    throw new Error(`${where}: onError must be "fail", "null" or "drop"`);
  }
  const fields = entriesOf(map, where).map(([key, target]) => {
    if (typeof target !== "string" || !Object.hasOwn(CONVERTERS, target)) {
      throw new Error(`${where} ${key}: unknown type ${JSON.stringify(target)}`);
    }
    const problem = `${where}: field ${JSON.stringify(key)} cannot be coerced to ${target}`;
    const halt: Halt =
      mode === "drop" ? { result: "Dropped", reason: problem } : failed("COERCE_FAILED", problem);
    return { path: compilePath(key), convert: CONVERTERS[target as Target], halt };
  });
  return (run) => {
    for (const { path, convert, halt } of fields) {
      const value = run.draft.get(path);
      // Absent and null stay as they are: "no value" is valid for every target type.
      if (value === undefined || value === null) continue;
      const converted = convert(value);
      if (converted === FAIL) {
        if (mode !== "null") return halt;
        run.draft.set(path, null);
      } else if (!Object.is(converted, value)) {
        run.draft.set(path, converted);
      }
    }
    return undefined;
  };
}

function compileTimestamp(spec: unknown, where: string): StepFn {
  if (!isObject(spec) || typeof spec.field !== "string") throw new Error(`${where}: needs a field`);
  const from = compilePath(spec.field);
  const to = spec.to === undefined ? from : compilePath(spec.to as string);
  const formats = spec.formats;
  let parsers: readonly TimeParser[];
  let names: string;
  if (formats === undefined) {
    parsers = DEFAULT_TIME_FORMATS;
    names = "iso8601, epoch (s or ms), rfc2822";
  } else {
    if (!Array.isArray(formats) || formats.length === 0) throw new Error(`${where}: formats must be a list`);
    parsers = formats.map((f: unknown) => {
      try {
        return compileTimeFormat(f as string);
      } catch (error) {
        throw new Error(`${where}: ${fullMessage(error)}`);
      }
    });
    names = formats.join(", ");
  }
  const message = `${where}: field ${JSON.stringify(spec.field)} matches none of the formats ${names}`;
  return (run) => {
    const value = run.draft.get(from);
    if (value === undefined || value === null) return undefined;
    for (const parse of parsers) {
      const ms = parse(value);
      if (ms !== undefined) {
        run.draft.set(to, new Date(ms).toISOString());
        return undefined;
      }
    }
    return failed("TIMESTAMP_FAILED", message);
  };
}

function compileMask(spec: unknown, where: string): StepFn {
  if (!isObject(spec)) throw new Error(`${where}: expected a mapping`);
  const paths = pathsOf(spec.fields, `${where} fields`);
  const salt = spec.salt ?? "";
  if (typeof salt !== "string") throw new Error(`${where}: salt must be a string`);
  let mask: (value: unknown) => string;
  if (spec.mode === "redact") {
    mask = () => REDACTED;
  } else if (spec.mode === "sha256") {
    mask = (value) => {
      const text =
        typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
      return createHash("sha256")
        .update(salt + text, "utf8")
        .digest("hex");
    };
  } else {
    throw new Error(`${where}: mode must be "redact" or "sha256"`);
  }
  return (run) => {
    for (const path of paths) {
      const value = run.draft.get(path);
      if (value !== undefined && value !== null) run.draft.set(path, mask(value));
    }
    return undefined;
  };
}

function compileRoute(map: unknown, where: string): StepFn {
  const keys = entriesOf(map, where).map(([name, source]) => {
    if (typeof source !== "string" || source === "")
      throw new Error(`${where} ${name}: expected a field or template`);
    const template = compileTemplate(source, `${where} ${name}`, renderScalar);
    let resolve: Resolver;
    if (template !== undefined) {
      resolve = template;
    } else {
      const path = compilePath(source);
      resolve = (run) => run.draft.get(path);
    }
    const halt = failed(
      "ROUTE_FAILED",
      `${where}: partition key ${JSON.stringify(name)} has no value (${JSON.stringify(source)} is missing, empty or not a scalar)`,
    );
    return { name, resolve, halt };
  });
  return (run) => {
    const partitionKeys: Record<string, string> = run.partitionKeys ?? {};
    for (const { name, resolve, halt } of keys) {
      const value = renderScalar(resolve(run));
      if (value === undefined || value === "") return halt;
      defineField(partitionKeys, name, value);
    }
    run.partitionKeys = partitionKeys;
    return undefined;
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function isPlainRecord(value: unknown): value is JsonObject {
  if (!isObject(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function compileCustom(name: unknown, options: unknown, where: string): StepFn {
  if (typeof name !== "string") throw new Error(`${where}: custom needs a transform name`);
  const fn = customTransform(name);
  if (fn === undefined) throw new Error(`${where}: unknown custom transform ${JSON.stringify(name)}`);
  if (options !== undefined && !isObject(options)) throw new Error(`${where}: options must be a mapping`);
  // Frozen so a transform cannot carry state from one record to the next through its options.
  const frozen: Readonly<JsonObject> = deepFreeze(deepCopy(options ?? {}));
  const dropped: Halt = {
    result: "Dropped",
    reason: `${where}: custom transform ${JSON.stringify(name)} dropped the record`,
  };
  const shapeError = failed(
    "CUSTOM_FAILED",
    `custom transform ${JSON.stringify(name)} returned something other than a plain object or null`,
  );
  return (run) => {
    let out: Record<string, unknown> | null;
    try {
      out = fn(deepCopy(run.draft.root), frozen);
    } catch (error) {
      return failed("CUSTOM_FAILED", errorMessage(error));
    }
    if (out === null) return dropped;
    if (!isPlainRecord(out)) return shapeError;
    run.draft.reset(out);
    return undefined;
  };
}

function kindOf(step: TransformStep): string {
  if (!isObject(step)) throw new Error("a step must be a mapping");
  const kinds = STEP_KINDS.filter((kind) => Object.hasOwn(step, kind));
  if (kinds.length !== 1) throw new Error(`a step needs exactly one of ${STEP_KINDS.join(", ")}`);
  return kinds[0]!;
}

function compileStep(step: TransformStep, where: string): StepFn {
  if ("filter" in step) return compileFilter(step.filter, where);
  if ("rename" in step) return compileRename(step.rename, where);
  if ("project" in step) return compileProject(step.project, where);
  if ("set" in step) return compileSet(step.set, where);
  if ("drop" in step) return compileDrop(step.drop, where);
  if ("coerce" in step) return compileCoerce(step.coerce, step.onError, where);
  if ("timestamp" in step) return compileTimestamp(step.timestamp, where);
  if ("mask" in step) return compileMask(step.mask, where);
  if ("route" in step) return compileRoute(step.route, where);
  return compileCustom(step.custom, step.options, where);
}

/** Compiles the steps once; throws, naming the step, when one is malformed. */
export function compileSteps(steps: readonly TransformStep[]): CompiledPipeline {
  if (!Array.isArray(steps)) throw new Error("steps must be a list");
  const names: string[] = [];
  const fns = steps.map((step, i) => {
    const where = `step ${i + 1} (${kindOf(step)})`;
    names.push(where);
    try {
      return compileStep(step, where);
    } catch (error) {
      const message = fullMessage(error);
      throw new Error(message.startsWith(where) ? message : `${where}: ${message}`);
    }
  });
  return {
    stepCount: fns.length,
    apply(record, ctx) {
      const run: Run = { draft: new Draft(record), ctx, partitionKeys: undefined, nowIso: undefined };
      let i = 0;
      try {
        for (; i < fns.length; i++) {
          const halt = fns[i]!(run);
          if (halt !== undefined) return halt;
        }
      } catch (error) {
        return failed("TRANSFORM_ERROR", `${names[i]} failed unexpectedly: ${errorMessage(error)}`);
      }
      const data = run.draft.root;
      return run.partitionKeys === undefined
        ? { result: "Ok", data }
        : { result: "Ok", data, partitionKeys: run.partitionKeys };
    },
  };
}
