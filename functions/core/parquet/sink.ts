/** Where builders report rejections: the Sink, type-mismatch messages and JSON pointer paths. */

import type { ConversionError } from "./encode-types.ts";
import { NumberText } from "./number-text.ts";

type Code = ConversionError["code"];

/** Where builders report bad values and undeclared fields, by position in their input. */
export interface Sink {
  error(pos: number, code: Code, path: string, message: string): void;
  /** An undeclared field inside a STRUCT: kept in `_extra` at the same path. */
  extra(pos: number, path: readonly (string | number)[], value: unknown): void;
}

export type Obj = Record<string, unknown>;

export function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (v instanceof NumberText) return "number";
  return typeof v;
}

export function mismatch(sink: Sink, pos: number, expected: string, v: unknown): void {
  sink.error(pos, "TYPE_MISMATCH", "", `expected ${expected}, got ${jsonType(v)}`);
}

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof NumberText);
}

function pointerSegment(name: string): string {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}

export function childSink(parent: Sink, name: string): Sink {
  const segment = `/${pointerSegment(name)}`;
  return {
    error: (pos, code, path, message) => parent.error(pos, code, segment + path, message),
    extra: (pos, path, value) => parent.extra(pos, [name, ...path], value),
  };
}
