/**
 * Canonical text of a schema, for the "only identical definitions are compatible" rule: object keys
 * sorted, annotations dropped, local `$ref`s inlined (a ref already being inlined stays a ref string).
 */
import { CONTAINERS, isAnnotation, isNode, type Node, resolveLocalRef } from "./schema-nodes.ts";

/** Keywords whose value is a map of names to schemas. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "dependentSchemas"]);
/** Keywords whose value is a schema (or, for `items`, possibly a list of them). */
const SCHEMA_VALUES = new Set([
  "items",
  "additionalItems",
  "additionalProperties",
  "not",
  "if",
  "then",
  "else",
  "contains",
  "propertyNames",
  "unevaluatedItems",
  "unevaluatedProperties",
]);
const SCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);

/** JSON with sorted keys, for data such as `enum` values and `const`. */
export function canonicalData(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalData).join(",")}]`;
  if (isNode(v)) {
    const entries = Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalData(v[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

export function canonicalSchema(schema: unknown, doc: Node, refs: readonly string[] = []): string {
  if (schema === true) return "{}";
  if (!isNode(schema)) return canonicalData(schema);
  const ref = schema.$ref;
  if (typeof ref === "string" && !refs.includes(ref)) {
    const target = resolveLocalRef(doc, ref);
    if (target) {
      const inlined = canonicalSchema(target.node, doc, [...refs, ref]);
      const siblings = Object.keys(schema).filter(
        (k) => k !== "$ref" && !isAnnotation(k) && !CONTAINERS.has(k),
      );
      // A bare ref is the same schema as its target written inline.
      if (siblings.length === 0) return inlined;
      return entries({ ...pick(schema, siblings), $ref: null }, doc, refs, inlined);
    }
  }
  return entries(schema, doc, refs);
}

/** The keyword as if it were the only one in its node, so data and schema positions are told apart. */
export function canonicalKeyword(node: Node, keyword: string, doc: Node): string {
  return canonicalSchema({ [keyword]: node[keyword] }, doc);
}

function pick(node: Node, keys: readonly string[]): Node {
  return Object.fromEntries(keys.map((k) => [k, node[k]]));
}

function entries(node: Node, doc: Node, refs: readonly string[], inlinedRef?: string): string {
  const out: string[] = [];
  for (const k of Object.keys(node).sort()) {
    if (isAnnotation(k) || CONTAINERS.has(k)) continue;
    const v = node[k];
    let text: string;
    if (k === "$ref" && inlinedRef !== undefined) text = inlinedRef;
    else if (SCHEMA_MAPS.has(k) && isNode(v)) text = schemaMap(v, doc, refs);
    else if (k === "dependencies" && isNode(v)) text = schemaMap(v, doc, refs);
    else if (SCHEMA_VALUES.has(k) && Array.isArray(v)) text = schemaList(v, doc, refs);
    else if (SCHEMA_VALUES.has(k)) text = canonicalSchema(v, doc, refs);
    else if (SCHEMA_LISTS.has(k) && Array.isArray(v)) text = schemaList(v, doc, refs);
    else text = canonicalData(v);
    out.push(`${JSON.stringify(k)}:${text}`);
  }
  return `{${out.join(",")}}`;
}

function schemaMap(map: Node, doc: Node, refs: readonly string[]): string {
  const out = Object.keys(map)
    .sort()
    // `dependencies` mixes schemas with lists of names; a list stays data.
    .map((k) => {
      const v = map[k];
      return `${JSON.stringify(k)}:${Array.isArray(v) ? canonicalData(v) : canonicalSchema(v, doc, refs)}`;
    });
  return `{${out.join(",")}}`;
}

function schemaList(list: readonly unknown[], doc: Node, refs: readonly string[]): string {
  return `[${list.map((s) => canonicalSchema(s, doc, refs)).join(",")}]`;
}
