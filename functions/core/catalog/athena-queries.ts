/**
 * The named queries the deployed Athena workgroup offers: the common questions about each
 * stream, over the Glue table of the sink holding its lake. Plain data, so the deploy limits
 * count the same queries the CDK app declares.
 */
import type { Manifest } from "../manifest/types.ts";
import { lakePipelineOf, type RuntimeConfig } from "../runtime-config.ts";
import { glueName } from "./projection.ts";
import { sinkTableSpecs } from "./specs.ts";
import { lakeTableDefinition } from "./table-input.ts";

/** One subject of named queries: a stream's rows in a table (or a whole table shared by streams). */
export interface QueryTarget {
  /** The stream, or the table when its rows cannot be told apart by stream. */
  readonly name: string;
  readonly database: string;
  readonly table: string;
  /** SQL condition keeping the stream's rows (the table's `stream` partition), when needed. */
  readonly filter?: string;
}

export interface NamedQuery {
  readonly name: string;
  readonly description: string;
  readonly database: string;
  readonly sql: string;
}

/** `config` is the manifest's runtime config: the streams' lakes and the catalog's database. */
export function queryTargets(manifest: Manifest, config: RuntimeConfig): QueryTarget[] {
  const database = config.catalog.database;
  const specs = sinkTableSpecs(manifest, () => "bucket");
  const sinkType = new Map(manifest.sinks.map((s) => [s.name, s.type]));
  const targets = new Map<string, QueryTarget>();
  for (const stream of manifest.streams) {
    const lake = lakePipelineOf(config.pipelines, stream.name)?.sink.name;
    if (lake === undefined) continue;
    const spec = specs.get(lake)!;
    const table = glueName(spec.tableName);
    if (spec.streams.length === 1) {
      targets.set(stream.name, { name: stream.name, database, table });
      continue;
    }
    const partitioned =
      sinkType.get(lake) === "parquet" &&
      (lakeTableDefinition(spec).input.PartitionKeys ?? []).some((k) => k.Name === "stream");
    if (partitioned)
      targets.set(stream.name, {
        name: stream.name,
        database,
        table,
        filter: `"stream" = '${stream.name}'`,
      });
    else targets.set(`table ${table}`, { name: table, database, table });
  }
  return [...targets.values()];
}

export function namedQueries(t: QueryTarget): NamedQuery[] {
  const from = `"${t.database}"."${t.table}"`;
  const where = (...conditions: string[]) => {
    const all = [t.filter, ...conditions].filter((c): c is string => c !== undefined);
    return all.length > 0 ? ` WHERE ${all.join(" AND ")}` : "";
  };
  const q = (slug: string, description: string, sql: string): NamedQuery => ({
    name: `${t.name} ${slug}`,
    description,
    database: t.database,
    sql,
  });
  return [
    q(
      "latest",
      "The 100 newest records",
      `SELECT * FROM ${from}${where()} ORDER BY _event_time DESC LIMIT 100`,
    ),
    q(
      "per-hour",
      "Records per hour of event time over the last day",
      `SELECT date_trunc('hour', _event_time) AS hour, count(*) AS records FROM ${from}${where("_event_time > current_timestamp - interval '1' day")} GROUP BY 1 ORDER BY 1`,
    ),
    q(
      "late",
      "Records received more than 5 minutes after their event time, per hour of receipt, over the last day",
      `SELECT date_trunc('hour', _receive_time) AS hour, count(*) AS late_records FROM ${from}${where("_receive_time > current_timestamp - interval '1' day", "_receive_time > _event_time + interval '5' minute")} GROUP BY 1 ORDER BY 1`,
    ),
    q(
      "by-id",
      "One record by its id (replace RECORD_ID)",
      `SELECT * FROM ${from}${where("_id = 'RECORD_ID'")}`,
    ),
  ];
}

/** Named queries per target (namedQueries). */
export const QUERIES_PER_TARGET = 4;
