/**
 * Glue columns of a sink's table, with the same mapping the batcher writes (DESIGN.md "Typed
 * Parquet from JSON Schema"): the envelope columns, the schemas' properties, then `_extra`.
 */
import type { JsonSchema } from "../manifest/types.ts";
import { type ColumnType, planColumns } from "../parquet/columns.ts";

export interface GlueColumn {
  readonly name: string;
  readonly type: string;
  readonly comment?: string;
}

const SIMPLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The Hive type Athena reads each Parquet column kind as. */
export function glueType(t: ColumnType): string {
  switch (t.kind) {
    case "string":
    case "json":
      return "string";
    case "timestamp":
      return "timestamp";
    case "date":
      return "date";
    case "int64":
      return "bigint";
    case "int32":
      return "int";
    case "double":
      return "double";
    case "boolean":
      return "boolean";
    case "list":
      return `array<${glueType(t.item)}>`;
    case "struct":
      return `struct<${t.fields.map((f) => `${SIMPLE_NAME.test(f.name) ? f.name : `\`${f.name}\``}:${glueType(f.type)}`).join(",")}>`;
  }
}

export interface LakeColumns {
  readonly columns: readonly GlueColumn[];
  /** Properties declared with different types by different schemas; the first declaration wins. */
  readonly conflicts: readonly string[];
}

/**
 * The envelope columns, then every schema's properties in declaration order (a property several
 * schemas share appears once), then `_extra`: the union of the files the sink holds.
 */
export function lakeColumns(schemas: readonly JsonSchema[]): LakeColumns {
  const properties = new Map<string, string>();
  const conflicts: string[] = [];
  for (const schema of schemas) {
    for (const field of planColumns(schema).fields) {
      const type = glueType(field.type);
      const seen = properties.get(field.name);
      if (seen === undefined) properties.set(field.name, type);
      else if (seen !== type) conflicts.push(`${field.name}: ${seen} vs ${type}`);
    }
  }
  return {
    columns: [
      { name: "_id", type: "string", comment: "Sluice record id (ULID)" },
      { name: "_event_time", type: "timestamp", comment: "event time, UTC" },
      { name: "_receive_time", type: "timestamp", comment: "time ingest accepted the record, UTC" },
      { name: "_schema_version", type: "int", comment: "version of the record's schema" },
      ...[...properties].map(([name, type]) => ({ name, type })),
      { name: "_extra", type: "string", comment: "undeclared top-level fields, as JSON" },
    ],
    conflicts,
  };
}
