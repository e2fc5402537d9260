/**
 * Writing dotted field paths (`a.b.c`): writes define own properties, so a `__proto__`,
 * `constructor` or `prototype` segment in data or config can never reach a prototype.
 * Reading lives in functions/core/field-path.ts.
 */

import { type FieldPath, getPath, isObject, type JsonObject } from "../core/field-path.ts";

export { compilePath, type FieldPath, getPath, isObject, type JsonObject } from "../core/field-path.ts";

/** Sets an own property; `__proto__` would hit the inherited setter with plain assignment. */
export function defineField(target: JsonObject, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** A deep copy of JSON-like data; spread and defineField keep odd keys as plain own data. */
export function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => deepCopy(item)) as T;
  if (!isObject(value)) return value;
  const copy: JsonObject = {};
  for (const key of Object.keys(value)) defineField(copy, key, deepCopy(value[key]));
  return copy as T;
}

/**
 * Copy-on-write view of one record: the input object is never changed; containers are copied
 * the first time a path through them is written, and copies are remembered so each is made once.
 */
export class Draft {
  #root: JsonObject;
  #owned: Set<object> | undefined;

  constructor(root: JsonObject) {
    this.#root = root;
  }

  get root(): JsonObject {
    return this.#root;
  }

  /** Replaces the whole record (project, custom); its top level is copied on the next write. */
  reset(root: JsonObject): void {
    this.#root = root;
    this.#owned = undefined;
  }

  get(path: FieldPath): unknown {
    return getPath(this.#root, path);
  }

  /** Writes `value`, replacing any non-object met on the way with a new object. */
  set(path: FieldPath, value: unknown): void {
    const keys = path.keys;
    let node = this.#writableRoot();
    const owned = this.#owned!;
    const last = keys.length - 1;
    for (let i = 0; i < last; i++) {
      const key = keys[i]!;
      const current = Object.hasOwn(node, key) ? node[key] : undefined;
      let next: JsonObject;
      if (isObject(current) && owned.has(current)) {
        next = current;
      } else {
        next = isObject(current) ? { ...current } : {};
        owned.add(next);
        defineField(node, key, next);
      }
      node = next;
    }
    defineField(node, keys[last]!, value);
  }

  /** Removes the field at `path`; returns false (and copies nothing) when it is absent. */
  delete(path: FieldPath): boolean {
    const keys = path.keys;
    const last = keys.length - 1;
    let probe: unknown = this.#root;
    for (let i = 0; i < last; i++) {
      if (!isObject(probe) || !Object.hasOwn(probe, keys[i]!)) return false;
      probe = probe[keys[i]!];
    }
    if (!isObject(probe) || !Object.hasOwn(probe, keys[last]!)) return false;
    let node = this.#writableRoot();
    const owned = this.#owned!;
    for (let i = 0; i < last; i++) {
      const key = keys[i]!;
      const current = node[key] as JsonObject;
      if (owned.has(current)) {
        node = current;
      } else {
        const copy = { ...current };
        owned.add(copy);
        defineField(node, key, copy);
        node = copy;
      }
    }
    delete node[keys[last]!];
    return true;
  }

  #writableRoot(): JsonObject {
    if (this.#owned === undefined) {
      this.#root = { ...this.#root };
      this.#owned = new Set([this.#root]);
    }
    return this.#root;
  }
}
