/**
 * The Iceberg schema of a sink's table, from the registered versions of the subjects it holds,
 * with the Parquet field ids the registry handed out (so a new version is a schema change of the
 * same table, and every file's columns resolve by id). A name's newest declaration is current;
 * properties later versions dropped stay, as old files hold them.
 *
 * Widening: Sluice's compatibility lets `integer` become `number` (INT64 -> DOUBLE) at the same
 * field id, which Iceberg forbids (long may not be promoted to double). For subjects written to an
 * Iceberg sink, such a version is refused at registration (`icebergWidenings`), rather than
 * giving the column a new id behind the other sinks' back.
 */

import type { JsonSchema } from "../manifest/types.ts";
import { type ColumnType, type FieldSpec, planColumns } from "../parquet/columns.ts";
import { columnNodes, type FieldIdMap, RESERVED_FIELD_IDS } from "../parquet/field-ids.ts";

export const EVENT_TIME_FIELD_ID = RESERVED_FIELD_IDS._event_time!;
export const RECORD_ID_FIELD_ID = RESERVED_FIELD_IDS._id!;

export type IcebergType =
  | string
  | { readonly type: "struct"; readonly fields: readonly IcebergField[] }
  | {
      readonly type: "list";
      readonly "element-id": number;
      readonly "element-required": boolean;
      readonly element: IcebergType;
    };

export interface IcebergField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergType;
  readonly doc?: string;
}

export interface IcebergSchema {
  readonly type: "struct";
  readonly "schema-id": number;
  readonly fields: readonly IcebergField[];
  readonly "identifier-field-ids"?: readonly number[];
}

export interface RegisteredSchema {
  readonly schema: JsonSchema;
  readonly fieldIds?: FieldIdMap;
}

const escapeName = (name: string) => name.replaceAll("~", "~0").replaceAll("/", "~1");

function icebergType(t: ColumnType, path: string, ids: FieldIdMap): IcebergType {
  switch (t.kind) {
    case "string":
    case "json":
      return "string";
    case "timestamp":
      return "timestamptz";
    case "date":
      return "date";
    case "int64":
      return "long";
    case "int32":
      return "int";
    case "double":
      return "double";
    case "boolean":
      return "boolean";
    case "list":
      return {
        type: "list",
        "element-id": idOf(ids, `${path}/items`),
        "element-required": false,
        element: icebergType(t.item, `${path}/items`, ids),
      };
    case "struct":
      return { type: "struct", fields: t.fields.map((f) => fieldOf(f, path, ids)) };
  }
}

function idOf(ids: FieldIdMap, path: string): number {
  const id = ids[path];
  if (id === undefined) throw new Error(`no field id for ${path}: the version predates field ids`);
  return id;
}

function fieldOf(f: FieldSpec, parent: string, ids: FieldIdMap): IcebergField {
  const path = `${parent}/properties/${escapeName(f.name)}`;
  return { id: idOf(ids, path), name: f.name, required: false, type: icebergType(f.type, path, ids) };
}

const ENVELOPE: readonly IcebergField[] = [
  {
    id: RESERVED_FIELD_IDS._id!,
    name: "_id",
    required: false,
    type: "string",
    doc: "Sluice record id (ULID)",
  },
  {
    id: RESERVED_FIELD_IDS._event_time!,
    name: "_event_time",
    required: false,
    type: "timestamptz",
    doc: "event time, UTC",
  },
  {
    id: RESERVED_FIELD_IDS._receive_time!,
    name: "_receive_time",
    required: false,
    type: "timestamptz",
    doc: "time ingest accepted the record, UTC",
  },
  {
    id: RESERVED_FIELD_IDS._schema_version!,
    name: "_schema_version",
    required: false,
    type: "int",
    doc: "version of the record's schema",
  },
];
const EXTRA: IcebergField = {
  id: RESERVED_FIELD_IDS._extra!,
  name: "_extra",
  required: false,
  type: "string",
  doc: "undeclared top-level fields, as JSON",
};

/** The table's fields for `versions` given newest first; `schema-id` is the caller's to set. */
export function icebergFields(versions: readonly RegisteredSchema[]): IcebergField[] {
  const byName = new Map<string, IcebergField>();
  for (const v of versions) {
    const ids = v.fieldIds ?? {};
    for (const f of planColumns(v.schema).fields) {
      if (!byName.has(f.name)) byName.set(f.name, fieldOf(f, "", ids));
    }
  }
  return [...ENVELOPE, ...byName.values(), EXTRA];
}

export function highestFieldId(fields: readonly IcebergField[]): number {
  let max = 0;
  const visit = (t: IcebergType) => {
    if (typeof t === "string") return;
    if (t.type === "list") {
      max = Math.max(max, t["element-id"]);
      visit(t.element);
    } else for (const f of t.fields) visitField(f);
  };
  const visitField = (f: IcebergField) => {
    max = Math.max(max, f.id);
    visit(f.type);
  };
  for (const f of fields) visitField(f);
  return max;
}

/** The column id of a dotted field path (`a.b`), through structs only. */
export function fieldIdOfPath(fields: readonly IcebergField[], path: string): number | undefined {
  let level: readonly IcebergField[] = fields;
  let found: IcebergField | undefined;
  for (const name of path.split(".")) {
    found = level.find((f) => f.name === name);
    if (!found) return undefined;
    level = typeof found.type !== "string" && found.type.type === "struct" ? found.type.fields : [];
  }
  return found?.id;
}

/** Every top-level primitive column: id and Iceberg type, for statistics. */
export function primitiveColumns(fields: readonly IcebergField[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const f of fields) if (typeof f.type === "string") out.set(f.id, f.type);
  return out;
}

/**
 * Columns `next` would widen from integer to number at the same id, against the subject's
 * `latest` version: what an Iceberg table cannot take (long -> double is not a valid promotion).
 */
export function icebergWidenings(latest: JsonSchema, next: JsonSchema): string[] {
  const before = new Map(columnNodes(planColumns(latest).fields).map((n) => [n.path, n.type]));
  return columnNodes(planColumns(next).fields)
    .filter((n) => before.get(n.path) === "INT64" && n.type === "DOUBLE")
    .map((n) => n.path);
}
