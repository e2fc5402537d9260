/**
 * Rules for the value constraints: bounds, lengths and counts, `multipleOf`, `pattern`, `format` and
 * `uniqueItems`. Each asks whether the writer's constraint is at least as tight as the reader's.
 */
import { keywordPointer, type Run, report, roles } from "./context.ts";
import { acceptsType, effectiveTypes, type View } from "./normalize.ts";
import type { Node } from "./schema-nodes.ts";

/** Counting keywords: `min` is a lower and `max` an upper bound on a length or count. */
const COUNTS = {
  string: [
    ["minLength", "min"],
    ["maxLength", "max"],
  ],
  array: [
    ["minItems", "min"],
    ["maxItems", "max"],
  ],
  object: [
    ["minProperties", "min"],
    ["maxProperties", "max"],
  ],
} as const;

export function compareConstraints(run: Run, old: View, candidate: View): void {
  const { writer } = roles(run, old, candidate);
  const produces = effectiveTypes(writer);
  // A constraint on a type the writer never produces is never exercised.
  if (acceptsType("integer", produces)) {
    compareBound(run, old, candidate, "lower");
    compareBound(run, old, candidate, "upper");
    compareMultipleOf(run, old, candidate);
  }
  for (const type of ["string", "array", "object"] as const) {
    if (!produces.has(type)) continue;
    for (const [keyword, end] of COUNTS[type]) compareCount(run, old, candidate, keyword, end);
  }
  if (produces.has("string")) compareExact(run, old, candidate, "pattern");
  compareExact(run, old, candidate, "format");
  if (produces.has("array")) compareUniqueItems(run, old, candidate);
}

// Malformed values are not read here: normalize.ts lists them as unsupported, compared for identity.
function num(node: Node, keyword: string): number | undefined {
  const v = node[keyword];
  return typeof v === "number" ? v : undefined;
}

function str(node: Node, keyword: string): string | undefined {
  const v = node[keyword];
  return typeof v === "string" ? v : undefined;
}

interface Bound {
  readonly value: number;
  readonly exclusive: boolean;
  readonly keyword: string;
}

/** The tighter of `minimum` and `exclusiveMinimum` (or of the two maximums). */
function boundOf(node: Node, end: "lower" | "upper"): Bound | undefined {
  const [inclusive, exclusive] =
    end === "lower" ? ["minimum", "exclusiveMinimum"] : ["maximum", "exclusiveMaximum"];
  const inc = num(node, inclusive);
  const exc = num(node, exclusive);
  const a = inc === undefined ? undefined : { value: inc, exclusive: false, keyword: inclusive };
  const b = exc === undefined ? undefined : { value: exc, exclusive: true, keyword: exclusive };
  if (!a || !b) return a ?? b;
  return tighter(b, a, end) ? b : a;
}

/** Whether `a` admits no value that `b` rejects. */
function tighter(a: Bound, b: Bound, end: "lower" | "upper"): boolean {
  if (a.value !== b.value) return end === "lower" ? a.value > b.value : a.value < b.value;
  return a.exclusive || !b.exclusive;
}

function compareBound(run: Run, old: View, candidate: View, end: "lower" | "upper"): void {
  const o = boundOf(old.node, end);
  const n = boundOf(candidate.node, end);
  const { writer: w, reader: r } = roles(run, o, n);
  if (!r || (w && tighter(w, r, end))) return;
  const show = (b: Bound | undefined) => (b ? String(b.value) : "none");
  const reason =
    o && n && o.keyword !== n.keyword
      ? `${o.keyword} ${o.value} -> ${n.keyword} ${n.value}`
      : `${(n ?? o)!.keyword} ${show(o)} -> ${show(n)}`;
  report(run, n ? `${candidate.loc}/${n.keyword}` : candidate.loc, reason);
}

function compareMultipleOf(run: Run, old: View, candidate: View): void {
  const o = num(old.node, "multipleOf");
  const n = num(candidate.node, "multipleOf");
  const { writer: w, reader: r } = roles(run, o, n);
  // Only an exact multiple counts: ajv divides in floating point, so 0.3 is not a multiple of 0.1.
  if (r === undefined || (w !== undefined && Number.isInteger(w / r))) return;
  report(
    run,
    keywordPointer(candidate.loc, candidate.node, "multipleOf"),
    `multipleOf ${o ?? "none"} -> ${n ?? "none"}`,
  );
}

function compareCount(run: Run, old: View, candidate: View, keyword: string, end: "min" | "max"): void {
  const o = num(old.node, keyword);
  const n = num(candidate.node, keyword);
  const { writer: w, reader: r } = roles(run, o, n);
  if (r === undefined) return;
  if (w !== undefined && (end === "min" ? w >= r : w <= r)) return;
  // minLength 0 and the like constrain nothing.
  if (end === "min" && r <= 0) return;
  report(
    run,
    keywordPointer(candidate.loc, candidate.node, keyword),
    `${keyword} ${o ?? "none"} -> ${n ?? "none"}`,
  );
}

/** `pattern` and `format`: regex and format inclusion are not decided here, only equality. */
function compareExact(run: Run, old: View, candidate: View, keyword: "pattern" | "format"): void {
  const o = str(old.node, keyword);
  const n = str(candidate.node, keyword);
  const { writer: w, reader: r } = roles(run, o, n);
  if (r === undefined || w === r) return;
  const show = (v: string | undefined) =>
    v === undefined ? "none" : keyword === "pattern" ? JSON.stringify(v) : v;
  report(run, keywordPointer(candidate.loc, candidate.node, keyword), `${keyword} ${show(o)} -> ${show(n)}`);
}

function compareUniqueItems(run: Run, old: View, candidate: View): void {
  const o = old.node.uniqueItems === true;
  const n = candidate.node.uniqueItems === true;
  const { writer: w, reader: r } = roles(run, o, n);
  if (!r || w) return;
  report(run, keywordPointer(candidate.loc, candidate.node, "uniqueItems"), `uniqueItems ${o} -> ${n}`);
}
