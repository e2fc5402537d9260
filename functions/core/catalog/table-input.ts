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
}

export const PARQUET_STORAGE = {
  InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
  OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
  SerdeInfo: {
    SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    Parameters: { "serialization.format": "1" },
  },
} as const;

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
        Location: `${root}${staticPrefix(spec.prefix)}`,
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
