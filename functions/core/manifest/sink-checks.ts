/**
 * Iceberg sink checks the schema cannot express: a table's partition spec must be constant
 * within every file the prefix cuts, its sort fields must be declared by the schemas it holds,
 * and partition/sortOrder/compaction mean nothing on a plain Parquet sink.
 */
import { parsePartitionTerm, partitionCoverageProblem } from "../iceberg/partition-spec.ts";
import { list, type Segment } from "./positions.ts";
import { declares, type Verdict } from "./prefix-checks.ts";
import type { Reporter } from "./report.ts";
import type { JsonSchema } from "./types.ts";

export function checkSinkTable(
  sink: Record<string, unknown>,
  path: Segment[],
  feeders: readonly Record<string, unknown>[],
  streamSchemas: ReadonlyMap<string, string>,
  schemas: ReadonlyMap<string, JsonSchema>,
  report: Reporter,
): void {
  const prefix = typeof sink.prefix === "string" ? sink.prefix : "";
  if (sink.type !== "iceberg") {
    for (const key of ["partition", "sortOrder", "compaction"] as const) {
      if (sink[key] !== undefined)
        report.warn("IGNORED_SETTING", [...path, key], 'only applies when type is "iceberg"', "key");
    }
    return;
  }
  list(sink.partition).forEach((text, i) => {
    if (typeof text !== "string") return;
    const term = parsePartitionTerm(text);
    if (!term) return; // the schema's pattern reports it
    const problem = partitionCoverageProblem(prefix, term);
    if (problem) report.error("INVALID_VALUE", [...path, "partition", i], problem);
  });
  const held = feeders.flatMap((p) =>
    list(p.sources).flatMap((s) => {
      const schema = typeof s === "string" ? schemas.get(streamSchemas.get(s) ?? "") : undefined;
      return schema === undefined ? [] : [schema];
    }),
  );
  list(sink.sortOrder).forEach((entry, i) => {
    if (typeof entry !== "string" || held.length === 0) return;
    const field = entry.split(" ")[0]!;
    const verdicts: Verdict[] = held.map((schema) => declares(schema, field.split(".")));
    if (verdicts.every((v) => v === "no")) {
      report.error(
        "UNDECLARED_FIELD",
        [...path, "sortOrder", i],
        `sort field ${JSON.stringify(field)} is not declared by any schema the sink holds`,
      );
    }
  });
}
