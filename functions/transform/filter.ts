/**
 * Filter conditions compiled once into predicates over a record. Comparisons never convert
 * types: `1` does not equal `"1"`, and ordering needs two numbers or two strings (two ISO-8601
 * strings compare as instants, so offsets and fraction digits do not fool it). An absent field
 * matches only `ne` and `exists: false`.
 */
import type { FilterCondition, FilterOp } from "../core/manifest/types.ts";
import { compilePath, getPath, isObject, type JsonObject } from "./paths.ts";
import { parseIso } from "./time.ts";

export type Predicate = (record: Readonly<JsonObject>) => boolean;
type Test = (value: unknown) => boolean;

/** Structural equality over JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (!Object.hasOwn(b, key) || !jsonEqual(a[key], b[key])) return false;
  return true;
}

function isPrimitive(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value !== "object";
}

function compileEquals(expected: unknown): Test {
  return isPrimitive(expected) ? (value) => value === expected : (value) => jsonEqual(value, expected);
}

function compileOrder(op: "gt" | "gte" | "lt" | "lte", expected: unknown, where: string): Test {
  const holds = {
    gt: (c: number) => c > 0,
    gte: (c: number) => c >= 0,
    lt: (c: number) => c < 0,
    lte: (c: number) => c <= 0,
  }[op];
  if (typeof expected === "number") {
    return (value) => typeof value === "number" && holds(value - expected);
  }
  if (typeof expected !== "string") throw new Error(`${where}: ${op} needs a number or a string value`);
  const instant = parseIso(expected);
  if (instant !== undefined) {
    // Both sides must be ISO instants; a non-ISO string against an ISO bound is a type mismatch.
    return (value) => {
      const t = parseIso(value);
      return t !== undefined && holds(t - instant);
    };
  }
  return (value) => typeof value === "string" && holds(value < expected ? -1 : value > expected ? 1 : 0);
}

function compileTest(op: FilterOp, expected: unknown, where: string): Test {
  switch (op) {
    case "eq":
      return compileEquals(expected);
    case "ne": {
      const eq = compileEquals(expected);
      return (value) => !eq(value);
    }
    case "in": {
      if (!Array.isArray(expected)) throw new Error(`${where}: in needs an array value`);
      if (expected.every(isPrimitive)) {
        const set = new Set<unknown>(expected);
        return (value) => isPrimitive(value) && set.has(value);
      }
      return (value) => expected.some((item) => jsonEqual(value, item));
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return compileOrder(op, expected, where);
    case "contains":
      return (value) => {
        if (typeof value === "string") return typeof expected === "string" && value.includes(expected);
        return Array.isArray(value) && value.some((item) => jsonEqual(item, expected));
      };
    case "regex": {
      if (typeof expected !== "string") throw new Error(`${where}: regex needs a string value`);
      let re: RegExp;
      try {
        re = new RegExp(expected);
      } catch (error) {
        throw new Error(`${where}: invalid regex: ${error instanceof Error ? error.message : String(error)}`);
      }
      return (value) => typeof value === "string" && re.test(value);
    }
    case "exists":
      throw new Error(`${where}: exists is handled by compileCondition`);
  }
  throw new Error(`${where}: unknown filter op ${JSON.stringify(op)}`);
}

/** Compiles a condition; throws with `where` in the message when it is malformed. */
export function compileCondition(condition: FilterCondition, where = "filter"): Predicate {
  if (!isObject(condition)) throw new Error(`${where}: a condition must be an object`);
  if ("and" in condition) {
    const parts = junction(condition.and, `${where}.and`);
    return (record) => parts.every((p) => p(record));
  }
  if ("or" in condition) {
    const parts = junction(condition.or, `${where}.or`);
    return (record) => parts.some((p) => p(record));
  }
  if ("not" in condition) {
    const inner = compileCondition(condition.not, `${where}.not`);
    return (record) => !inner(record);
  }
  if (!("field" in condition)) throw new Error(`${where}: a condition needs field, and, or or not`);
  const path = compilePath(condition.field);
  const at = `${where} (${condition.field})`;
  if (condition.op === "exists") {
    const want = condition.value ?? true;
    if (typeof want !== "boolean") throw new Error(`${at}: exists takes true or false`);
    return (record) => (getPath(record, path) !== undefined) === want;
  }
  const test = compileTest(condition.op, condition.value, at);
  return (record) => test(getPath(record, path));
}

function junction(conditions: readonly FilterCondition[], where: string): Predicate[] {
  if (!Array.isArray(conditions) || conditions.length === 0)
    throw new Error(`${where}: needs at least one condition`);
  return conditions.map((c, i) => compileCondition(c, `${where}[${i}]`));
}
