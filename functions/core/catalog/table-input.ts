/**
 * The Glue table over a sink as one plain value: an external Parquet table with partition
 * projection (or, when the template cannot be projected, none). The CDK app declares it and the
 * local runner creates it from the same value, so both catalogs hold the same table.
 */
import type { TableInput } from "@aws-sdk/client-glue";
import type { JsonSchema } from "../manifest/types.ts";
import { lakeColumns } from "./columns.ts";
import { glueName, type PartitionProjection, partitionProjection, staticPrefix } from "./projection.ts";

export interface LakeTableSpec {
  /** Table name; made Glue-safe. */
  readonly tableName: string;
  readonly bucketName: string;
  /** The sink's prefix template. */
  readonly prefix: string;
  /** JSON Schemas of what the sink holds; where two declare a property, the first wins. */
  readonly schemas: readonly JsonSchema[];
  readonly streams: readonly string[];
  readonly pipelines: readonly string[];
  /** Earliest date partition Athena considers. @default "NOW-3YEARS" */
  readonly projectionRangeStart?: string;
}

export interface LakeTableDefinition {
  readonly input: TableInput & { Name: string };
  readonly projection: PartitionProjection;
  /** Properties declared with different types by different schemas. */
  readonly conflicts: readonly string[];
  /** False when Location had to be the bucket root, which holds `errors/` beside the data. */
  readonly locationExcludesErrors: boolean;
}

export const PARQUET_STORAGE = {
  InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
  OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
  SerdeInfo: {
    SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    Parameters: { "serialization.format": "1" },
  },
} as const;

/** Where the batchers file undeliverable records in a sink's bucket (functions/core/delivery/error-files.ts). */
export const ERRORS_PREFIX = "errors/";

/**
 * The table's Location: the longest key prefix all of the sink's data shares. Engines that
 * list Location instead of using the projection template (Spark, Hive, Glue crawlers, Athena on
 * an unprojected table) read every object under it, so it must not contain `errors/` (gzipped
 * JSON lines, not Parquet). A template that starts with a lone `{stream}` or `{pipeline}` with
 * one value has that value's folder as its start. Undefined when the data's only common start
 * is the bucket root, which holds `errors/` too.
 */
export function dataLocation(
  spec: Pick<LakeTableSpec, "prefix" | "streams" | "pipelines">,
): string | undefined {
  const start = staticPrefix(spec.prefix);
  if (start !== "") return start.startsWith(ERRORS_PREFIX) ? undefined : start;
  const lone = /^\{(stream|pipeline)\}\//.exec(spec.prefix);
  const values = lone?.[1] === "stream" ? spec.streams : lone?.[1] === "pipeline" ? spec.pipelines : [];
  if (values.length !== 1) return undefined;
  const folder = `${values[0]}/`;
  return folder.startsWith(ERRORS_PREFIX) ? undefined : folder;
}

export function lakeTableDefinition(spec: LakeTableSpec): LakeTableDefinition {
  const { columns, conflicts } = lakeColumns(spec.schemas);
  const root = `s3://${spec.bucketName}/`;
  const projection = partitionProjection(spec.prefix, {
    location: root,
    streams: spec.streams,
    pipelines: spec.pipelines,
    columns: columns.map((c) => c.name),
    ...(spec.projectionRangeStart === undefined ? {} : { rangeStart: spec.projectionRangeStart }),
  });
  const projected = projection.projected ? projection : undefined;
  return {
    projection,
    conflicts,
    locationExcludesErrors: dataLocation(spec) !== undefined,
    input: {
      Name: glueName(spec.tableName),
      Description: projected
        ? `Sluice sink over s3://${spec.bucketName}/${spec.prefix}`
        : `Sluice sink over ${root}${staticPrefix(spec.prefix)}; not partitioned: ${projection.projected ? "" : projection.reason}`,
      TableType: "EXTERNAL_TABLE",
      Parameters: { classification: "parquet", EXTERNAL: "TRUE", ...(projected?.parameters ?? {}) },
      PartitionKeys: projected ? projected.partitionKeys.map((c) => ({ Name: c.name, Type: c.type })) : [],
      StorageDescriptor: {
        Columns: columns.map((c) => ({
          Name: c.name,
          Type: c.type,
          ...(c.comment === undefined ? {} : { Comment: c.comment }),
        })),
        Location: `${root}${dataLocation(spec) ?? ""}`,
        InputFormat: PARQUET_STORAGE.InputFormat,
        OutputFormat: PARQUET_STORAGE.OutputFormat,
        SerdeInfo: {
          SerializationLibrary: PARQUET_STORAGE.SerdeInfo.SerializationLibrary,
          Parameters: { ...PARQUET_STORAGE.SerdeInfo.Parameters },
        },
      },
    },
  };
}
