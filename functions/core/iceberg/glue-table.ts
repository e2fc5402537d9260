/**
 * The Glue entry of an Iceberg sink's table, as the deploy and `npm start` create it: type
 * ICEBERG, the registered columns, no metadata yet. The committer's first run writes the
 * metadata and sets `metadata_location` (only the committer writes table metadata, so the
 * field ids are always the registry's).
 */
import type { TableInput } from "@aws-sdk/client-glue";
import { lakeColumns } from "../catalog/columns.ts";
import { glueName } from "../catalog/projection.ts";
import type { LakeTableSpec } from "../catalog/table-input.ts";
import { tableLocation } from "./committer.ts";

export function icebergTableInput(spec: LakeTableSpec): TableInput & { Name: string } {
  const name = glueName(spec.tableName);
  return {
    Name: name,
    Description: `Sluice Iceberg sink; metadata under ${tableLocation(spec.bucketName, name)}`,
    TableType: "EXTERNAL_TABLE",
    Parameters: { table_type: "ICEBERG", classification: "parquet" },
    StorageDescriptor: {
      Columns: lakeColumns(spec.schemas).columns.map((c) => ({
        Name: c.name,
        Type: c.type,
        ...(c.comment === undefined ? {} : { Comment: c.comment }),
      })),
      Location: tableLocation(spec.bucketName, name),
    },
  };
}
