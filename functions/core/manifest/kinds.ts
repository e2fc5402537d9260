/** Checks that every step and filter condition has exactly one kind key. */

import { isRecord, list, pointer, type Segment } from "./positions.ts";
import type { Reporter } from "./report.ts";
import { closest } from "./suggest.ts";
import { STEP_KINDS } from "./types.ts";

const STEP_EXTRAS = new Set(["onError", "options"]);
const CONDITION_KINDS = ["field", "and", "or", "not"] as const;
const CONDITION_EXTRAS = new Set(["op", "value"]);

/**
 * Reports steps and filter conditions without exactly one kind key, and returns their ajv
 * instance paths so the schema's oneOf/if noise for them is dropped.
 */
export function checkKinds(data: unknown, report: Reporter): Set<string> {
  const bad = new Set<string>();
  if (!isRecord(data)) return bad;
  list(data.pipelines).forEach((pipeline, p) => {
    if (!isRecord(pipeline)) return;
    list(pipeline.steps).forEach((step, s) => {
      const path: Segment[] = ["pipelines", p, "steps", s];
      if (!isRecord(step)) return;
      if (!checkKind(step, path, STEP_KINDS, STEP_EXTRAS, "step", report)) bad.add(pointer(path));
      if ("filter" in step) checkConditionKinds(step.filter, [...path, "filter"], report, bad);
    });
  });
  return bad;
}

function checkConditionKinds(condition: unknown, path: Segment[], report: Reporter, bad: Set<string>): void {
  if (!isRecord(condition)) return;
  if (!checkKind(condition, path, CONDITION_KINDS, CONDITION_EXTRAS, "condition", report))
    bad.add(pointer(path));
  for (const junction of ["and", "or"] as const) {
    list(condition[junction]).forEach((inner, i) => {
      checkConditionKinds(inner, [...path, junction, i], report, bad);
    });
  }
  if ("not" in condition) checkConditionKinds(condition.not, [...path, "not"], report, bad);
}

function checkKind(
  object: Record<string, unknown>,
  path: Segment[],
  kinds: readonly string[],
  extras: ReadonlySet<string>,
  what: "step" | "condition",
  report: Reporter,
): boolean {
  const keys = Object.keys(object);
  const present = keys.filter((key) => kinds.includes(key));
  if (present.length === 1) return true;
  const expected = kinds.map((kind) => JSON.stringify(kind)).join(", ");
  if (present.length > 1) {
    const found = present.map((kind) => JSON.stringify(kind)).join(" and ");
    const message = `a ${what} has exactly one kind; found ${found}`;
    report.error("STEP_KIND", [...path, present[1]!], message, "key");
    return false;
  }
  const unknown = keys.find((key) => !extras.has(key));
  if (unknown === undefined) {
    report.error("STEP_KIND", path, `a ${what} needs one of ${expected}`, "key");
  } else {
    const guess = closest(unknown, kinds);
    const tail =
      guess === undefined ? `; expected one of ${expected}` : `; did you mean ${JSON.stringify(guess)}?`;
    report.error(
      "STEP_KIND",
      [...path, unknown],
      `unknown ${what} kind ${JSON.stringify(unknown)}${tail}`,
      "key",
    );
  }
  return false;
}
