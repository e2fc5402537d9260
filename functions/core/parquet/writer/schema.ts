/**
 * The Parquet schema of a set of columns: every column and nested field optional, lists in the
 * standard three-level layout (`optional group x (LIST) { repeated group list { optional element } }`),
 * structs as optional groups. Each leaf knows its path of nested columns and its maximum levels.
 */

import { parquetPathKey } from "../field-ids.ts";
import { ConvertedType, type LogicalType, PhysicalType, Repetition, type SchemaElement } from "./format.ts";
import type { ColumnData, ColumnInput, PrimitiveColumn } from "./types.ts";

export interface Leaf {
  /** Names from the top-level column to the leaf, as in ColumnMetaData.path_in_schema. */
  readonly path: readonly string[];
  /** The columns from the top-level one down to the leaf's values (the last). */
  readonly chain: readonly ColumnData[];
  readonly maxDef: number;
  readonly maxRep: number;
  readonly physicalType: number;
  /** The top-level column's settings. */
  readonly input: ColumnInput;
}

export interface FileSchema {
  /** Depth-first, the root first, as FileMetaData.schema. */
  readonly elements: readonly SchemaElement[];
  /** In file order: the order of column chunks in each row group. */
  readonly leaves: readonly Leaf[];
}

const PRIMITIVE: Record<
  PrimitiveColumn["kind"],
  { type: number; convertedType?: number; logicalType?: LogicalType }
> = {
  utf8: { type: PhysicalType.BYTE_ARRAY, convertedType: ConvertedType.UTF8, logicalType: { kind: "string" } },
  int32: { type: PhysicalType.INT32 },
  date: { type: PhysicalType.INT32, convertedType: ConvertedType.DATE, logicalType: { kind: "date" } },
  int64: { type: PhysicalType.INT64 },
  timestamp: {
    type: PhysicalType.INT64,
    convertedType: ConvertedType.TIMESTAMP_MICROS,
    logicalType: { kind: "timestampMicros", utc: true },
  },
  double: { type: PhysicalType.DOUBLE },
  boolean: { type: PhysicalType.BOOLEAN },
};

export function fileSchema(
  columns: readonly ColumnInput[],
  fieldIds: ReadonlyMap<string, number> = new Map(),
): FileSchema {
  const elements: SchemaElement[] = [{ name: "schema", numChildren: columns.length }];
  const leaves: Leaf[] = [];
  const idOf = (path: readonly string[]) => {
    const fieldId = fieldIds.size === 0 ? undefined : fieldIds.get(parquetPathKey(path));
    return fieldId === undefined ? {} : { fieldId };
  };

  const add = (
    input: ColumnInput,
    name: string,
    data: ColumnData,
    path: readonly string[],
    chain: readonly ColumnData[],
    def: number,
    rep: number,
  ): void => {
    const here = [...path, name];
    const down = [...chain, data];
    switch (data.kind) {
      case "list":
        elements.push({
          name,
          repetition: Repetition.OPTIONAL,
          numChildren: 1,
          convertedType: ConvertedType.LIST,
          ...idOf(here),
          logicalType: { kind: "list" },
        });
        elements.push({ name: "list", repetition: Repetition.REPEATED, numChildren: 1 });
        add(input, "element", data.item, [...here, "list"], down, def + 2, rep + 1);
        return;
      case "struct":
        if (data.fields.length === 0) throw new RangeError(`struct column ${here.join(".")} has no fields`);
        elements.push({
          name,
          repetition: Repetition.OPTIONAL,
          numChildren: data.fields.length,
          ...idOf(here),
        });
        for (const f of data.fields) add(input, f.name, f.data, here, down, def + 1, rep);
        return;
      default: {
        const p = PRIMITIVE[data.kind];
        elements.push({ name, repetition: Repetition.OPTIONAL, ...p, ...idOf(here) });
        leaves.push({
          path: here,
          chain: down,
          maxDef: def + 1,
          maxRep: rep,
          physicalType: p.type,
          input,
        });
      }
    }
  };

  for (const c of columns) add(c, c.name, c.data, [], [], 0, 0);
  return { elements, leaves };
}
