/**
 * Dotted field paths (`a.b.c`) over JSON records, read through own properties only, so a
 * `__proto__`, `constructor` or `prototype` segment is just a field name and never reaches a
 * prototype. Shared by prefix templates and transform steps.
 */

export type JsonObject = Record<string, unknown>;

/** A compiled dotted path: its segments, plus the original text for messages. */
export interface FieldPath {
  readonly text: string;
  readonly keys: readonly string[];
}

export function compilePath(text: string): FieldPath {
  if (typeof text !== "string" || text === "") throw new Error(`field path must be a non-empty string`);
  const keys = text.split(".");
  if (keys.some((key) => key === ""))
    throw new Error(`field path ${JSON.stringify(text)} has an empty segment`);
  return { text, keys };
}

/** A plain JSON object: not null, not an array. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at `path`, or undefined when any segment is absent (inherited keys count as absent). */
export function getPath(root: unknown, path: FieldPath): unknown {
  let node: unknown = root;
  for (const key of path.keys) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}
