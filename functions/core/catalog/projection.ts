/**
 * Athena partition projection from a sink's prefix template, so no crawler or `MSCK REPAIR` is
 * ever needed, and the Glue names derived from Sluice's.
 */
import { PREFIX_PLACEHOLDER } from "../prefix.ts";
import type { GlueColumn } from "./columns.ts";

export type PartitionProjection =
  | {
      readonly projected: true;
      readonly partitionKeys: readonly GlueColumn[];
      /** `projection.*` and `storage.location.template` table parameters. */
      readonly parameters: Readonly<Record<string, string>>;
    }
  | { readonly projected: false; readonly reason: string };

export interface ProjectionContext {
  /** `s3://bucket/`, where the template's keys start. */
  readonly location: string;
  /** Streams whose records the sink holds: the values of `{stream}`. */
  readonly streams: readonly string[];
  /** Pipelines writing to the sink: the values of `{pipeline}`. */
  readonly pipelines: readonly string[];
  /** Data columns, which partition columns must not shadow. */
  readonly columns: readonly string[];
  /** Earliest date partition Athena considers, absolute or relative. @default "NOW-3YEARS" */
  readonly rangeStart?: string;
}

const TIME = ["yyyy", "MM", "dd", "HH", "mm"] as const;
type TimePart = (typeof TIME)[number];
const UNIT: Record<TimePart, string> = {
  yyyy: "YEARS",
  MM: "MONTHS",
  dd: "DAYS",
  HH: "HOURS",
  mm: "MINUTES",
};
// A lone month, day, hour or minute segment is a small integer range; Athena's date projection
// would need the whole date in one segment.
const INTEGER_RANGE: Record<Exclude<TimePart, "yyyy">, string> = {
  MM: "1,12",
  dd: "1,31",
  HH: "0,23",
  mm: "0,59",
};
const DEFAULT_NAME: Record<TimePart, string> = {
  yyyy: "year",
  MM: "month",
  dd: "day",
  HH: "hour",
  mm: "minute",
};

const isTime = (p: string): p is TimePart => (TIME as readonly string[]).includes(p);

function columnName(raw: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return /^[a-z_]/.test(name) ? name : `p_${name}`;
}

/** Java DateTimeFormatter pattern for a run of time placeholders and literals. */
function datePattern(value: string): string {
  return value
    .split(/(\{(?:yyyy|MM|dd|HH|mm)\})/)
    .map((part) => {
      const m = /^\{(\w+)\}$/.exec(part);
      if (m) return m[1]!;
      return part === "" ? "" : /[A-Za-z']/.test(part) ? `'${part.replace(/'/g, "''")}'` : part;
    })
    .join("");
}

/**
 * Partition projection from a prefix template, segment by segment: a `key=` prefix names the
 * column; `{yyyy}` with the finer placeholders after it in one segment is a date, a lone `{MM}`,
 * `{dd}`, `{HH}` or `{mm}` an integer range, `{stream}` and `{pipeline}` enums of the sink's
 * streams and pipelines, and `{field:...}`/`{partitionKey:...}` injected (queries must give the
 * value; it is the percent-encoded form the batcher writes for unsafe characters).
 * Not projectable, and said so: a segment mixing time with other placeholders, two non-time
 * placeholders in one segment, or time parts out of order (`{MM}-{yyyy}`).
 */
export function partitionProjection(template: string, ctx: ProjectionContext): PartitionProjection {
  const keys: GlueColumn[] = [];
  const parameters: Record<string, string> = { "projection.enabled": "true" };
  const taken = new Set(ctx.columns.map((c) => c.toLowerCase()));
  const location: string[] = [];
  const rangeStart = ctx.rangeStart ?? "NOW-3YEARS";

  const claim = (raw: string): string => {
    let name = columnName(raw);
    if (taken.has(name)) name = `${name}_partition`;
    for (let i = 2; taken.has(name); i++) name = `${columnName(raw)}_partition${i}`;
    taken.add(name);
    return name;
  };

  for (const segment of template.split("/")) {
    const placeholders = [...segment.matchAll(new RegExp(PREFIX_PLACEHOLDER.source, "g"))].map((m) => m[1]!);
    if (placeholders.length === 0) {
      location.push(segment);
      continue;
    }
    const hive = /^([A-Za-z0-9_]+)=/.exec(segment);
    const head = hive ? hive[0] : "";
    const value = segment.slice(head.length);
    const times = placeholders.filter(isTime);

    if (times.length === placeholders.length) {
      const inOrder = times.every((t, i) => t === TIME[TIME.indexOf(times[0]!) + i]);
      if (times[0] === "yyyy" && inOrder) {
        const name = claim(hive?.[1] ?? (times.length === 1 ? "year" : "dt"));
        keys.push({ name, type: "string" });
        parameters[`projection.${name}.type`] = "date";
        parameters[`projection.${name}.format`] = datePattern(value);
        // Event times may run up to the stream's allowed skew ahead of the clock.
        parameters[`projection.${name}.range`] = `${rangeStart},NOW+1DAYS`;
        parameters[`projection.${name}.interval`] = "1";
        parameters[`projection.${name}.interval.unit`] = UNIT[times[times.length - 1]!];
        location.push(`${head}\${${name}}`);
        continue;
      }
      const only = times[0]!;
      if (times.length === 1 && only !== "yyyy" && value === `{${only}}`) {
        const name = claim(hive?.[1] ?? DEFAULT_NAME[only]);
        keys.push({ name, type: "string" });
        parameters[`projection.${name}.type`] = "integer";
        parameters[`projection.${name}.range`] = INTEGER_RANGE[only];
        parameters[`projection.${name}.digits`] = "2";
        location.push(`${head}\${${name}}`);
        continue;
      }
      return {
        projected: false,
        reason: `segment "${segment}" splits a date in a way Athena cannot project`,
      };
    }
    if (placeholders.length > 1) {
      return { projected: false, reason: `segment "${segment}" holds more than one value` };
    }
    const only = placeholders[0]!;
    const field = only.startsWith("field:")
      ? only.slice(6)
      : only.startsWith("partitionKey:")
        ? only.slice(13)
        : "";
    const name = claim(hive?.[1] ?? (field === "" ? only : field));
    keys.push({ name, type: "string" });
    if (only === "stream" || only === "pipeline") {
      const values = only === "stream" ? ctx.streams : ctx.pipelines;
      if (values.length === 0) return { projected: false, reason: `no ${only} writes to this sink yet` };
      parameters[`projection.${name}.type`] = "enum";
      parameters[`projection.${name}.values`] = values.join(",");
    } else {
      parameters[`projection.${name}.type`] = "injected";
    }
    location.push(`${head}${value.replace(`{${only}}`, `\${${name}}`)}`);
  }
  parameters["storage.location.template"] = `${ctx.location}${location.join("/")}`;
  return { projected: true, partitionKeys: keys, parameters };
}

/** The static start of a template: where every key of the sink's data begins. */
export function staticPrefix(template: string): string {
  const first = template.search(/\{/);
  const head = first === -1 ? template : template.slice(0, first);
  return head.slice(0, head.lastIndexOf("/") + 1);
}

/** Glue names: lower case letters, digits and underscores. */
export function glueName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_]/g, "_");
}
