/**
 * The Parquet column kind of a schema node, one level at a time, from parquet/columns.ts itself,
 * so the checker compares exactly the columns the batcher writes.
 */
import { type ColumnShape, columnShape, followRoot, type Node } from "../parquet/columns.ts";

export type ColumnKind = ColumnShape["kind"];

/** How reasons name a kind; nested kinds are compared where the checker recurses, so none is spelled out. */
export const COLUMN_NAMES: Readonly<Record<ColumnKind, string>> = {
  string: "UTF8",
  timestamp: "TIMESTAMP",
  date: "DATE",
  int64: "INT64",
  double: "DOUBLE",
  boolean: "BOOLEAN",
  json: "JSON",
  list: "LIST",
  struct: "STRUCT",
};

export type ColumnView = ColumnShape;

/** The record root: always a struct of its properties, reached through `$ref`s but not `allOf`. */
export function rootColumn(doc: Node): ColumnView {
  return { kind: "struct", node: followRoot(doc), refs: [] };
}

export const columnOf: (schema: unknown, doc: Node, refs: readonly string[]) => ColumnView = columnShape;
