/**
 * The Glue table over a sink, so Athena can query Parquet as soon as it lands; its definition is
 * functions/core/catalog's, which the local runner creates too, so both catalogs hold the same.
 */
import { Annotations, Stack } from "aws-cdk-lib";
import { type CfnDatabase, CfnTable } from "aws-cdk-lib/aws-glue";
import { Construct } from "constructs";
import type { PartitionProjection } from "../functions/core/catalog/projection.ts";
import { type LakeTableSpec, lakeTableDefinition } from "../functions/core/catalog/table-input.ts";
import { icebergTableInput } from "../functions/core/iceberg/glue-table.ts";

export interface LakeTableProps extends LakeTableSpec {
  /** The database the table goes in. */
  readonly database: CfnDatabase;
  /**
   * An Iceberg table (table_type ICEBERG): no partition keys or SerDe, its committer writes the
   * metadata and sets metadata_location on its first run. @default false
   */
  readonly iceberg?: boolean;
}

/** An external Parquet table with partition projection (or, when the template cannot be projected, none). */
export class LakeTable extends Construct {
  public readonly table: CfnTable;
  public readonly tableName: string;
  public readonly projection: PartitionProjection;

  constructor(scope: Construct, id: string, props: LakeTableProps) {
    super(scope, id);
    const { input, projection, conflicts, locationExcludesErrors } = lakeTableDefinition(props);
    this.tableName = input.Name;
    this.projection = projection;
    if (conflicts.length > 0) {
      Annotations.of(this).addWarningV2(
        "sluice:lake-column-conflict",
        `streams feeding ${props.tableName} declare properties with different types (${conflicts.join("; ")}); the table uses the first`,
      );
    }
    if (props.iceberg) {
      this.projection = { projected: false, reason: "Iceberg tables are partitioned by their metadata" };
      const t = icebergTableInput(props);
      const sd = t.StorageDescriptor!;
      this.table = new CfnTable(this, "Table", {
        catalogId: Stack.of(this).account,
        databaseName: props.database.ref,
        tableInput: {
          name: t.Name,
          description: t.Description!,
          tableType: t.TableType!,
          parameters: t.Parameters!,
          storageDescriptor: {
            columns: sd.Columns!.map((c) => ({
              name: c.Name!,
              type: c.Type!,
              ...(c.Comment === undefined ? {} : { comment: c.Comment }),
            })),
            location: sd.Location!,
          },
        },
      });
      return;
    }
    if (!projection.projected) {
      Annotations.of(this).addWarningV2(
        "sluice:lake-not-projected",
        `${props.tableName}: prefix ${props.prefix} cannot be projected (${projection.reason}); the table has no partitions`,
      );
    }
    if (!locationExcludesErrors) {
      // Info, not a warning: the quick-start layout has it with two streams, and a warning would
      // make every such synth fail cdk-nag's clean report.
      Annotations.of(this).addInfo(
        `sluice:lake-location-has-errors: ${props.tableName}: prefix ${props.prefix} has no static start shared by all its data, so the table's location is the bucket root, which holds errors/ too; engines that list the location instead of the projection read error files as data: start the prefix with a folder (e.g. "data/${props.prefix}")`,
      );
    }
    const sd = input.StorageDescriptor!;
    this.table = new CfnTable(this, "Table", {
      catalogId: Stack.of(this).account,
      databaseName: props.database.ref,
      tableInput: {
        name: input.Name,
        description: input.Description!,
        tableType: input.TableType!,
        parameters: input.Parameters!,
        partitionKeys: input.PartitionKeys!.map((c) => ({ name: c.Name!, type: c.Type! })),
        storageDescriptor: {
          columns: sd.Columns!.map((c) => ({
            name: c.Name!,
            type: c.Type!,
            ...(c.Comment === undefined ? {} : { comment: c.Comment }),
          })),
          location: sd.Location!,
          inputFormat: sd.InputFormat!,
          outputFormat: sd.OutputFormat!,
          serdeInfo: {
            serializationLibrary: sd.SerdeInfo!.SerializationLibrary!,
            parameters: sd.SerdeInfo!.Parameters!,
          },
        },
      },
    });
  }
}
