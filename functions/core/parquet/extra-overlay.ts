/** The `_extra` overlay: undeclared fields set at their path in a plain object. */

import type { Obj } from "./sink.ts";

/**
 * Sets own property `name`, even one named "__proto__" (which assignment would take for the
 * prototype).
 */
function setOwn(o: Obj, name: string, value: unknown): void {
  if (name === "__proto__") {
    Object.defineProperty(o, name, { value, writable: true, enumerable: true, configurable: true });
  } else {
    o[name] = value;
  }
}

/**
 * Sets `value` at `path` inside the `_extra` overlay, creating objects/arrays on the way. Plain
 * objects, read through own properties only: null-prototype ones are dictionaries in V8, several
 * times bigger and slower to stringify.
 */
export function setIn(root: Obj, path: readonly (string | number)[], value: unknown): void {
  let cur: Obj | unknown[] = root;
  for (let k = 0; k < path.length; k++) {
    const key = path[k]!;
    const last = k === path.length - 1;
    const next: unknown = last ? value : typeof path[k + 1] === "number" ? [] : {};
    if (Array.isArray(cur)) {
      const idx = key as number;
      if (last || cur[idx] === undefined) cur[idx] = next;
      cur = cur[idx] as Obj | unknown[];
    } else {
      const name = String(key);
      let child = Object.hasOwn(cur, name) ? cur[name] : undefined;
      if (last || child === undefined) {
        setOwn(cur, name, next);
        child = next;
      }
      cur = child as Obj | unknown[];
    }
  }
}
