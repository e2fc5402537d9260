/** Shared vocabulary for reading JSON Schema nodes: keyword groups, local `$ref`s and JSON pointers. */

export type Node = Record<string, unknown>;

export function isNode(v: unknown): v is Node {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Keywords that never change which records validate, so no change to them is an incompatibility. */
const ANNOTATIONS = new Set([
  "title",
  "description",
  "examples",
  "$comment",
  "default",
  "deprecated",
  "readOnly",
  "writeOnly",
  "$schema",
  "$id",
  "$anchor",
]);

export function isAnnotation(keyword: string): boolean {
  // `x-` is the OpenAPI convention for vendor extensions, which ajv (strict: false) ignores.
  return ANNOTATIONS.has(keyword) || keyword.startsWith("x-");
}

/** Hold definitions for `$ref`; what they contain matters only where something refers to it. */
export const CONTAINERS = new Set(["definitions", "$defs"]);

/** True when every key of `node` other than `except` is an annotation or a container. */
export function onlyAnnotations(node: Node, except: readonly string[]): boolean {
  return Object.keys(node).every((k) => except.includes(k) || isAnnotation(k) || CONTAINERS.has(k));
}

export function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

export function childPointer(base: string, ...keys: readonly (string | number)[]): string {
  return keys.reduce<string>((p, k) => `${p}/${escapePointer(String(k))}`, base);
}

/**
 * `#`, `#/definitions/x`, `#/$defs/x` or any other pointer into the same document, as columns.ts
 * resolves them; `loc` is the target's JSON pointer. Other documents and anchors are not followed.
 */
export function resolveLocalRef(doc: Node, ref: string): { node: unknown; loc: string } | undefined {
  if (ref === "#") return { node: doc, loc: "" };
  if (!ref.startsWith("#/")) return undefined;
  let cur: unknown = doc;
  let loc = "";
  for (const raw of ref.slice(2).split("/")) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    } catch {
      return undefined;
    }
    if (!isNode(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = cur[key];
    loc = childPointer(loc, key);
  }
  return { node: cur, loc };
}
