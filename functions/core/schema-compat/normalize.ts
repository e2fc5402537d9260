/**
 * Reads one schema node into the form the checker compares: local `$ref`s and single-item `allOf`
 * followed, the nullable spellings merged, and its keywords sorted into supported and not.
 */
import { canonicalData } from "./canonical.ts";
import {
  CONTAINERS,
  childPointer,
  isAnnotation,
  isNode,
  type Node,
  onlyAnnotations,
  resolveLocalRef,
} from "./schema-nodes.ts";

export type JsonType = "string" | "integer" | "number" | "boolean" | "object" | "array" | "null";

const ALL_TYPES: readonly JsonType[] = ["string", "integer", "number", "boolean", "object", "array", "null"];

export interface View {
  /** JSON pointer of the node whose keywords were read. */
  readonly loc: string;
  /** That node; `{}` for the schema `true`. */
  readonly node: Node;
  /** Where the schema says it is nullable (the `anyOf`/`oneOf` node for that spelling). */
  readonly nullLoc: string;
  /** The `type` keyword, plus "null" from a nullable union; every type when absent. */
  readonly types: ReadonlySet<JsonType>;
  /** The allowed values, from `enum` or `const` (and null from a nullable union). */
  readonly values?: readonly unknown[];
  readonly valuesKeyword?: "enum" | "const";
  /** Keywords outside the supported subset, compared only for identity. */
  readonly opaque: readonly string[];
  /** Set when the node as a whole is outside the subset: the keyword that puts it there. */
  readonly whole?: string;
}

const SUPPORTED = new Set([
  "type",
  "enum",
  "const",
  "format",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "pattern",
  "items",
  "minItems",
  "maxItems",
  "uniqueItems",
  "properties",
  "required",
  "additionalProperties",
  "patternProperties",
  "minProperties",
  "maxProperties",
]);
const NUMERIC = new Set([
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
]);
/** These read what other keywords evaluated, so no keyword next to them can be judged alone. */
const WHOLE = ["unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef"];

export function readView(raw: unknown, loc: string, doc: Node, seen: Set<string> = new Set()): View {
  let node: unknown = raw;
  let at = loc;
  for (;;) {
    if (node === true) node = {};
    if (node === false) return { loc: at, node: {}, nullLoc: at, types: new Set(), opaque: [] };
    if (!isNode(node)) return wholeView(at, "schema");
    if (node.$ref !== undefined) {
      const ref = node.$ref;
      // Siblings of `$ref` mean different things in draft-07 and 2020-12; identity is the safe rule.
      if (typeof ref !== "string" || !onlyAnnotations(node, ["$ref"]) || seen.has(ref))
        return wholeView(at, "$ref");
      const target = resolveLocalRef(doc, ref);
      if (!target) return wholeView(at, "$ref");
      seen.add(ref);
      node = target.node;
      at = target.loc;
      continue;
    }
    if (Array.isArray(node.allOf) && node.allOf.length === 1 && onlyAnnotations(node, ["allOf"])) {
      node = node.allOf[0];
      at = childPointer(at, "allOf", 0);
      continue;
    }
    const nullable = nullableUnion(node, at, doc, seen);
    if (nullable) return nullable;
    return keywords(node, at);
  }
}

/** `anyOf: [T, {type: "null"}]` (or `oneOf`) is T or null; anything else is a real union. */
function nullableUnion(node: Node, at: string, doc: Node, seen: Set<string>): View | undefined {
  for (const key of ["anyOf", "oneOf"] as const) {
    const alts = node[key];
    if (!Array.isArray(alts) || !onlyAnnotations(node, [key])) continue;
    const nulls = alts.filter(isNullSchema).length;
    const others = alts.map((a, i) => ({ a, i })).filter(({ a }) => !isNullSchema(a));
    if (others.length !== 1 || nulls === 0 || (key === "oneOf" && nulls > 1)) return undefined;
    const only = others[0]!;
    const inner = readView(only.a, childPointer(at, key, only.i), doc, seen);
    // Merging null into T is exact only when nothing in T could say something about null.
    if (inner.whole || inner.opaque.length > 0) return undefined;
    // With oneOf, a null that T also accepts matches two branches and is rejected.
    if (key === "oneOf" && acceptsNull(inner)) return undefined;
    const types = new Set(inner.types);
    types.add("null");
    return { ...inner, types, values: inner.values && [...inner.values, null], nullLoc: at };
  }
  return undefined;
}

function isNullSchema(s: unknown): boolean {
  return isNode(s) && s.type === "null" && onlyAnnotations(s, ["type"]);
}

function acceptsNull(v: View): boolean {
  return acceptsType("null", v.types) && (!v.values || v.values.some((x) => x === null));
}

function keywords(node: Node, at: string): View {
  for (const k of WHOLE) if (node[k] !== undefined) return wholeView(at, k);
  const types = readTypes(node.type);
  if (!types) return wholeView(at, "type");
  const opaque: string[] = [];
  for (const [k, v] of Object.entries(node)) {
    if (isAnnotation(k) || CONTAINERS.has(k) || k === "type") continue;
    if (!SUPPORTED.has(k) || !wellFormed(k, v)) opaque.push(k);
  }
  let values: unknown[] | undefined;
  let valuesKeyword: "enum" | "const" | undefined;
  if (Array.isArray(node.enum)) {
    values = node.enum;
    valuesKeyword = "enum";
    if ("const" in node) opaque.push("const");
  } else if ("const" in node) {
    values = [node.const];
    valuesKeyword = "const";
  }
  return { loc: at, node, nullLoc: at, types, values, valuesKeyword, opaque };
}

function wellFormed(keyword: string, v: unknown): boolean {
  if (NUMERIC.has(keyword)) return typeof v === "number" && Number.isFinite(v);
  switch (keyword) {
    case "enum":
      return Array.isArray(v);
    case "format":
    case "pattern":
      return typeof v === "string";
    case "uniqueItems":
      return typeof v === "boolean";
    case "required":
      return Array.isArray(v) && v.every((x) => typeof x === "string");
    case "properties":
    case "patternProperties":
      return isNode(v);
    case "items":
    case "additionalProperties":
      // `items: [...]` is a tuple, outside the subset.
      return typeof v === "boolean" || isNode(v);
    default:
      return true;
  }
}

function readTypes(type: unknown): Set<JsonType> | undefined {
  if (type === undefined) return new Set(ALL_TYPES);
  const list = Array.isArray(type) ? type : [type];
  if (
    !list.every((t): t is JsonType => typeof t === "string" && (ALL_TYPES as readonly string[]).includes(t))
  ) {
    return undefined;
  }
  return new Set(list);
}

function wholeView(at: string, keyword: string): View {
  return { loc: at, node: {}, nullLoc: at, types: new Set(ALL_TYPES), opaque: [], whole: keyword };
}

/** `number` includes the integers. */
export function acceptsType(t: JsonType, types: ReadonlySet<JsonType>): boolean {
  return types.has(t) || (t === "integer" && types.has("number"));
}

export function valueType(v: unknown): JsonType {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "object") return "object";
  return typeof v === "string" ? "string" : "boolean";
}

/** The values a node accepts, leaving out `enum` values its `type` rejects anyway. */
export function allowedValues(v: View): readonly unknown[] | undefined {
  return v.values?.filter((x) => acceptsType(valueType(x), v.types));
}

/** The types of the values a node can accept: `type` narrowed by `enum`/`const`. */
export function effectiveTypes(v: View): ReadonlySet<JsonType> {
  const values = allowedValues(v);
  return values ? new Set(values.map(valueType)) : v.types;
}

export function showTypes(types: ReadonlySet<JsonType>): string {
  if (types.size === 0) return "never";
  if (ALL_TYPES.every((t) => t === "integer" || types.has(t))) return "any";
  return ALL_TYPES.filter((t) => types.has(t) && !(t === "integer" && types.has("number"))).join("|");
}

export function sameValue(a: unknown, b: unknown): boolean {
  return canonicalData(a) === canonicalData(b);
}
