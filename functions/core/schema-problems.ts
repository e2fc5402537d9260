/**
 * Why a JSON Schema cannot be registered, each reason at a JSON pointer into the request body:
 * meta-schema violations, `$ref`s that resolve to nothing or to another document (the registry
 * fetches none), and `pattern`s (or `patternProperties` keys) that do not compile or could stall.
 */
import type { JsonSchema } from "./manifest/types.ts";
import { patternChecker } from "./pattern-safety.ts";
import { compileSchema, metaSchemaErrors } from "./validators.ts";

export interface SchemaProblem {
  /** JSON pointer into the request body. */
  readonly path: string;
  readonly message: string;
}

type Json = Record<string, unknown>;

const SCHEMA_MAPS = new Set([
  "properties",
  "patternProperties",
  "definitions",
  "$defs",
  "dependentSchemas",
  "dependencies",
]);
const SCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems", "items"]);
const SCHEMA_ONE = new Set([
  "not",
  "if",
  "then",
  "else",
  "items",
  "additionalItems",
  "additionalProperties",
  "contains",
  "propertyNames",
  "unevaluatedItems",
  "unevaluatedProperties",
  "contentSchema",
]);
/** Base of the registered document itself: compileSchema drops its `$id`, so ajv has none. */
const ROOT_BASE = "sluice:///schema";

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
const pointerToken = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");
const tokenKey = (token: string) => token.replaceAll("~1", "/").replaceAll("~0", "~");

interface Ref {
  readonly pointer: string;
  readonly ref: string;
  readonly base: string;
  /** The schema resource `#/...` is resolved in. */
  readonly resource: Json;
}

/** The `pattern`s, `patternProperties` keys and `$ref`s at schema positions, in document order. */
class SchemaMap {
  readonly patterns: { pointer: string; source: string }[] = [];
  readonly refs: Ref[] = [];
  readonly anchors = new Set<string>();
  readonly resources = new Map<string, Json>();

  constructor(readonly root: Json) {
    this.visit(root, "", ROOT_BASE, root);
  }

  private visit(node: unknown, pointer: string, base: string, resource: Json): void {
    if (!isObject(node)) return;
    const id = node.$id;
    if (typeof id === "string" && node !== this.root) {
      if (id.startsWith("#")) this.anchors.add(id.slice(1));
      else {
        base = resolve(id, base);
        resource = node;
        this.resources.set(base.split("#")[0]!, node);
      }
    }
    for (const key of ["$anchor", "$dynamicAnchor"]) {
      if (typeof node[key] === "string") this.anchors.add(node[key]);
    }
    for (const [key, value] of Object.entries(node)) {
      const at = `${pointer}/${pointerToken(key)}`;
      if (key === "$ref" && typeof value === "string")
        this.refs.push({ pointer: at, ref: value, base, resource });
      if (key === "pattern" && typeof value === "string") this.patterns.push({ pointer: at, source: value });
      if (key === "patternProperties" && isObject(value)) {
        for (const source of Object.keys(value))
          this.patterns.push({ pointer: `${at}/${pointerToken(source)}`, source });
      }
      if (SCHEMA_MAPS.has(key) && isObject(value)) {
        for (const [name, sub] of Object.entries(value))
          this.visit(sub, `${at}/${pointerToken(name)}`, base, resource);
      } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
        for (const [i, sub] of value.entries()) this.visit(sub, `${at}/${i}`, base, resource);
      } else if (SCHEMA_ONE.has(key)) {
        this.visit(value, at, base, resource);
      }
    }
  }

  /** Why `ref` resolves to nothing here, or undefined when it resolves. */
  refProblem({ ref, base, resource }: Ref): string | undefined {
    const hash = ref.indexOf("#");
    const document = hash < 0 ? ref : ref.slice(0, hash);
    const fragment = hash < 0 ? "" : ref.slice(hash + 1);
    const target = document === "" ? resource : this.resources.get(resolve(document, base));
    if (target === undefined) {
      return `$ref "${ref}" is to another document, and the registry fetches none: put that schema under "definitions" or "$defs" and refer to it as "#/definitions/..."`;
    }
    if (fragment === "") return undefined;
    if (fragment.startsWith("/")) {
      return pointAt(target, fragment) === undefined
        ? `$ref "${ref}" resolves to nothing in this schema`
        : undefined;
    }
    return this.anchors.has(fragment) ? undefined : `$ref "${ref}" names no anchor in this schema`;
  }
}

function resolve(ref: string, base: string): string {
  try {
    return new URL(ref, base).href;
  } catch {
    return ref;
  }
}

/** The value at a `$ref` fragment (`/a/b`, URI-encoded), or undefined. */
function pointAt(root: unknown, fragment: string): unknown {
  let node = root;
  for (const token of fragment.slice(1).split("/")) {
    let key: string;
    try {
      key = tokenKey(decodeURIComponent(token));
    } catch {
      return undefined;
    }
    if (Array.isArray(node) && /^(0|[1-9]\d*)$/.test(key)) node = node[Number(key)];
    else if (isObject(node) && Object.hasOwn(node, key)) node = node[key];
    else return undefined;
  }
  return node;
}

/** Every pointer in `value`, numbered in document order. */
function documentOrder(value: unknown, pointer = "", order = new Map<string, number>()): Map<string, number> {
  order.set(pointer, order.size);
  if (value !== null && typeof value === "object") {
    for (const [key, sub] of Object.entries(value))
      documentOrder(sub, `${pointer}/${pointerToken(key)}`, order);
  }
  return order;
}

/** Where a regex ajv compiled sits, found anywhere (a `$ref` can lead ajv off schema positions). */
function locatePattern(value: unknown, source: string, pointer = ""): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, sub] of Object.entries(value)) {
    const at = `${pointer}/${pointerToken(key)}`;
    if (key === "pattern" && sub === source) return at;
    if (key === "patternProperties" && isObject(sub) && Object.hasOwn(sub, source)) {
      return `${at}/${pointerToken(source)}`;
    }
    const found = locatePattern(sub, source, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

function metaSchemaProblems(schema: JsonSchema): { pointer: string; message: string }[] {
  return metaSchemaErrors(schema).map((e) => {
    const pointer =
      e.propertyName === undefined ? e.instancePath : `${e.instancePath}/${pointerToken(e.propertyName)}`;
    const keyword = pointer.split("/").pop();
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
    const message =
      e.keyword === "enum" && allowed
        ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`
        : (e.message ?? e.keyword);
    return { pointer, message: keyword ? `"${tokenKey(keyword)}" ${message}` : `the schema ${message}` };
  });
}

/**
 * Every reason `schema` cannot be registered, first in document order; empty when it can. `at` is
 * the schema's own pointer in the request body.
 */
export function schemaProblems(schema: JsonSchema, at = "/schema"): SchemaProblem[] {
  const found = new Map<string, string>();
  const add = (pointer: string, message: string) => {
    if (!found.has(pointer)) found.set(pointer, message);
  };
  const map = new SchemaMap(schema);
  try {
    for (const p of metaSchemaProblems(schema)) add(p.pointer, p.message);
  } catch (err) {
    add("", `the schema cannot be checked against its meta-schema: ${(err as Error).message.slice(0, 300)}`);
  }
  for (const ref of map.refs) {
    const why = map.refProblem(ref);
    if (why) add(ref.pointer, why);
  }
  const refusal = patternChecker();
  const checked = new Set<string>();
  for (const { pointer, source } of map.patterns) {
    checked.add(source);
    const why = refusal(source);
    // The engine's reason is more exact than the meta-schema's at the same place.
    if (why) found.set(pointer, why);
  }
  if (found.size === 0) {
    const compiled: string[] = [];
    let failure: Error | undefined;
    try {
      compileSchema(schema, (source) => compiled.push(source));
    } catch (err) {
      failure = err as Error;
      const missing = (err as { missingRef?: unknown }).missingRef;
      if (typeof missing === "string") {
        const ref = map.refs.find((r) => r.ref === missing || resolve(r.ref, r.base) === missing);
        add(ref?.pointer ?? "", `$ref "${ref?.ref ?? missing}" cannot be resolved`);
      }
    }
    // A `$ref` into an unknown keyword or into data makes ajv compile regexes the schema map
    // does not list: each one ajv compiled is checked all the same.
    for (const source of compiled) {
      if (checked.has(source)) continue;
      checked.add(source);
      const why = refusal(source);
      if (why) add(locatePattern(schema, source) ?? "", why);
    }
    if (failure && found.size === 0) add("", `the schema does not compile: ${failure.message.slice(0, 300)}`);
  }
  const order = documentOrder(schema);
  return [...found]
    .map(([pointer, message]) => ({ pointer, message }))
    .sort((a, b) => (order.get(a.pointer) ?? 0) - (order.get(b.pointer) ?? 0))
    .map(({ pointer, message }) => ({ path: `${at}${pointer}`, message }));
}
