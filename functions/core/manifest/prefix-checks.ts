/** Value checks: sink prefix placeholders, step templates and regexes, custom transforms, finite numbers. */
import type { LoadManifestOptions } from "./load.ts";
import { isRecord, list, type Segment } from "./positions.ts";
import type { Reporter } from "./report.ts";
import { closest, hint } from "./suggest.ts";
import type { JsonSchema } from "./types.ts";

/** Placeholders a sink prefix may use besides `{field:NAME}` and `{partitionKey:NAME}`. */
export const PREFIX_PLACEHOLDERS = ["stream", "pipeline", "yyyy", "MM", "dd", "HH", "mm"] as const;

/** Templates a `set` value (or a `route` value) may contain besides `{{field:NAME}}`. */
export const SET_TEMPLATES = ["now", "uuid"] as const;

export const FIELD_PATH = /^[^.\s{}]+(\.[^.\s{}]+)*$/;
export const ROUTE_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export type Verdict = "yes" | "no" | "maybe";

export function checkStep(
  step: Record<string, unknown>,
  path: Segment[],
  report: Reporter,
  options: LoadManifestOptions,
): void {
  const registered = options.customTransforms;
  if (registered !== undefined && typeof step.custom === "string" && !registered.has(step.custom)) {
    const message = `unknown custom transform ${JSON.stringify(step.custom)}${hint(step.custom, [...registered], "registered")}`;
    report.error("UNKNOWN_TRANSFORM", [...path, "custom"], message);
  }
  if ("filter" in step) checkRegexes(step.filter, [...path, "filter"], report);
  for (const kind of ["set", "route"] as const) {
    const map = step[kind];
    if (!isRecord(map)) continue;
    for (const [key, value] of Object.entries(map)) {
      if (typeof value === "string") checkTemplates(value, [...path, kind, key], report);
    }
  }
}

export function checkRegexes(condition: unknown, path: Segment[], report: Reporter): void {
  if (!isRecord(condition)) return;
  if (condition.op === "regex" && typeof condition.value === "string") {
    try {
      new RegExp(condition.value);
    } catch (error) {
      const reason =
        error instanceof Error ? error.message.replace(/^Invalid regular expression: \/.*\/\w*: /, "") : "";
      report.error("INVALID_REGEX", [...path, "value"], `is not a valid regular expression: ${reason}`);
    }
  }
  for (const junction of ["and", "or"] as const) {
    list(condition[junction]).forEach((inner, i) => {
      checkRegexes(inner, [...path, junction, i], report);
    });
  }
  if ("not" in condition) checkRegexes(condition.not, [...path, "not"], report);
}

export function checkTemplates(value: string, path: Segment[], report: Reporter): void {
  for (const match of value.matchAll(/\{\{([^{}]*)\}\}/g)) {
    const name = match[1]!.trim();
    if ((SET_TEMPLATES as readonly string[]).includes(name)) continue;
    if (name.startsWith("field:") && FIELD_PATH.test(name.slice("field:".length))) continue;
    const allowed = [...SET_TEMPLATES.map((template) => `{{${template}}}`), "{{field:NAME}}"].join(", ");
    const guess = closest(name, SET_TEMPLATES);
    const tail = guess === undefined ? `; allowed: ${allowed}` : `; did you mean "{{${guess}}}"?`;
    report.error("INVALID_TEMPLATE", path, `unknown template ${JSON.stringify(match[0])}${tail}`, {
      within: match[0],
    });
  }
}

/** Checks a sink prefix's placeholders and that something can fill `{field:}`/`{partitionKey:}`. */
export function checkPrefix(
  prefix: string,
  path: Segment[],
  feeders: readonly Record<string, unknown>[],
  streamSchemas: ReadonlyMap<string, string>,
  schemas: ReadonlyMap<string, JsonSchema>,
  report: Reporter,
): void {
  const allowed = [
    ...PREFIX_PLACEHOLDERS.map((name) => `{${name}}`),
    "{field:NAME}",
    "{partitionKey:NAME}",
  ].join(", ");
  let at = 0;
  while (at < prefix.length) {
    const open = prefix.indexOf("{", at);
    const close = prefix.indexOf("}", at);
    if (open < 0 && close < 0) break;
    if (close >= 0 && (open < 0 || close < open)) {
      report.error("PREFIX_PLACEHOLDER", path, 'has a "}" without a matching "{"', {
        within: prefix.slice(at),
      });
      at = close + 1;
      continue;
    }
    const end = prefix.indexOf("}", open + 1);
    const nested = prefix.indexOf("{", open + 1);
    if (end < 0 || (nested >= 0 && nested < end)) {
      report.error("PREFIX_PLACEHOLDER", path, 'has a "{" without a matching "}"', {
        within: prefix.slice(open),
      });
      at = open + 1;
      continue;
    }
    const token = prefix.slice(open, end + 1);
    const name = token.slice(1, -1);
    at = end + 1;
    const within = { within: token };
    if ((PREFIX_PLACEHOLDERS as readonly string[]).includes(name)) continue;
    const colon = name.indexOf(":");
    const kind = colon < 0 ? name : name.slice(0, colon);
    const argument = colon < 0 ? "" : name.slice(colon + 1);
    if (kind === "field") {
      if (!FIELD_PATH.test(argument)) {
        report.error(
          "PREFIX_PLACEHOLDER",
          path,
          `${token} needs a field path, e.g. {field:customer.region}`,
          within,
        );
      } else {
        checkPrefixField(token, argument, path, feeders, streamSchemas, schemas, report);
      }
      continue;
    }
    if (kind === "partitionKey") {
      if (!ROUTE_KEY.test(argument)) {
        report.error(
          "PREFIX_PLACEHOLDER",
          path,
          `${token} needs a partition key name, e.g. {partitionKey:region}`,
          within,
        );
      } else {
        checkPrefixPartitionKey(token, argument, path, feeders, report);
      }
      continue;
    }
    const guess = closest(name, [...PREFIX_PLACEHOLDERS, "field:", "partitionKey:"]);
    const tail = guess === undefined ? `; allowed: ${allowed}` : `; did you mean "{${guess}}"?`;
    report.error("PREFIX_PLACEHOLDER", path, `unknown placeholder ${JSON.stringify(token)}${tail}`, within);
  }
}

/**
 * `{field:NAME}` partitions by a record field, so the records reaching the sink should have it:
 * an error when nothing feeding the sink can produce it, a warning when only some can.
 */
export function checkPrefixField(
  token: string,
  field: string,
  path: Segment[],
  feeders: readonly Record<string, unknown>[],
  streamSchemas: ReadonlyMap<string, string>,
  schemas: ReadonlyMap<string, JsonSchema>,
  report: Reporter,
): void {
  const lacking: string[] = [];
  let any = false;
  for (const pipeline of feeders) {
    const produced = pipelineProduces(pipeline, field);
    for (const source of list(pipeline.sources)) {
      if (typeof source !== "string") continue;
      const schemaName = streamSchemas.get(source);
      const schema = schemaName === undefined ? undefined : schemas.get(schemaName);
      const verdict: Verdict =
        produced !== "no" ? produced : schema === undefined ? "maybe" : declares(schema, field.split("."));
      if (verdict === "no") lacking.push(source);
      else any = true;
    }
  }
  const streams = [...new Set(lacking)].map((stream) => JSON.stringify(stream)).join(", ");
  if (lacking.length > 0 && !any) {
    const message = `${token}: no schema of the streams feeding this sink (${streams}) declares ${JSON.stringify(field)}`;
    report.error("UNDECLARED_FIELD", path, message, { within: token });
  } else if (lacking.length > 0) {
    const message = `${token}: ${JSON.stringify(field)} is not declared by the schema of ${streams}`;
    report.warn("UNDECLARED_FIELD", path, message, { within: token });
  }
}

export function checkPrefixPartitionKey(
  token: string,
  key: string,
  path: Segment[],
  feeders: readonly Record<string, unknown>[],
  report: Reporter,
): void {
  if (feeders.length === 0) return;
  const missing = feeders.filter((pipeline) => pipelineRoutes(pipeline, key) === "no");
  if (missing.length === 0) return;
  const names = missing.map((pipeline) => JSON.stringify(pipeline.name)).join(", ");
  const message = `${token}: no route step sets partition key ${JSON.stringify(key)} in pipeline ${names}`;
  if (missing.length === feeders.length) report.error("PREFIX_PLACEHOLDER", path, message, { within: token });
  else report.warn("PREFIX_PLACEHOLDER", path, message, { within: token });
}

/** Whether a pipeline's own steps put `field` into its records; external code may do anything. */
export function pipelineProduces(pipeline: Record<string, unknown>, field: string): Verdict {
  if (pipeline.transformerArn !== undefined) return "maybe";
  const covers = (target: unknown): boolean =>
    typeof target === "string" && (target === field || field.startsWith(`${target}.`));
  let verdict: Verdict = "no";
  for (const step of list(pipeline.steps)) {
    if (!isRecord(step)) continue;
    if (step.custom !== undefined) verdict = "maybe";
    if (isRecord(step.set) && Object.keys(step.set).some(covers)) return "yes";
    if (isRecord(step.rename) && Object.values(step.rename).some(covers)) return "yes";
    if (isRecord(step.timestamp) && covers(step.timestamp.to)) return "yes";
  }
  return verdict;
}

export function pipelineRoutes(pipeline: Record<string, unknown>, key: string): Verdict {
  if (pipeline.transformerArn !== undefined) return "maybe";
  let verdict: Verdict = "no";
  for (const step of list(pipeline.steps)) {
    if (!isRecord(step)) continue;
    if (step.custom !== undefined) verdict = "maybe";
    if (isRecord(step.route) && key in step.route) return "yes";
  }
  return verdict;
}

/** Whether a JSON Schema declares the dotted property path; "maybe" where it can't tell. */
export function declares(schema: unknown, path: readonly string[]): Verdict {
  if (path.length === 0) return "yes";
  if (schema === true) return "maybe";
  if (!isRecord(schema)) return "no";
  const [head, ...rest] = path as [string, ...string[]];
  let verdict: Verdict = "no";
  const merge = (next: Verdict): void => {
    if (next === "yes" || (next === "maybe" && verdict === "no")) verdict = next;
  };
  if (isRecord(schema.properties) && Object.hasOwn(schema.properties, head))
    merge(declares(schema.properties[head], rest));
  if (/^\d+$/.test(head) && schema.items !== undefined) merge(declares(schema.items, rest));
  for (const branch of ["allOf", "anyOf", "oneOf"] as const) {
    for (const sub of list(schema[branch])) merge(declares(sub, path));
  }
  for (const sub of [schema.then, schema.else]) if (sub !== undefined) merge(declares(sub, path));
  if (verdict === "no" && (schema.$ref !== undefined || schema.$dynamicRef !== undefined)) verdict = "maybe";
  return verdict;
}

/** Numbers from YAML's `.inf`/`.nan` would not survive JSON; the manifest must. */
export function checkFiniteNumbers(value: unknown, path: Segment[], report: Reporter): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value) && !report.hasErrorAt(path))
      report.error("INVALID_VALUE", path, "must be a finite number");
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      checkFiniteNumbers(item, [...path, i], report);
    });
  } else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) checkFiniteNumbers(item, [...path, key], report);
  }
}
