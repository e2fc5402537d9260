/**
 * Compiles a JSON Schema into the column layout of Sluice's Parquet files (DESIGN.md, "Typed Parquet
 * from JSON Schema"). Done once per schema version; `encodeParquet` reuses the result for every batch.
 */
import type { JsonSchema } from "../manifest/types.ts";
import { type FieldIdMap, parquetFieldIds } from "./field-ids.ts";

/** The shape of one column (or of a nested child). `json` is a UTF8 column holding JSON text. */
export type ColumnType =
  | { readonly kind: "string" }
  | { readonly kind: "timestamp" }
  | { readonly kind: "date" }
  | { readonly kind: "int64" }
  | { readonly kind: "int32" }
  | { readonly kind: "double" }
  | { readonly kind: "boolean" }
  | { readonly kind: "json" }
  | { readonly kind: "list"; readonly item: ColumnType }
  | { readonly kind: "struct"; readonly fields: readonly FieldSpec[] };

export interface FieldSpec {
  readonly name: string;
  readonly type: ColumnType;
  /**
   * The name also exists on Object.prototype ("constructor", "__proto__", ...), so a plain
   * `obj[name]` would read the prototype when the record lacks the field.
   */
  readonly shadowsPrototype: boolean;
}

export interface ColumnPlan {
  /** Top-level columns in file order, with a readable type such as `LIST<UTF8>`. */
  readonly columns: readonly { name: string; type: string }[];
}

export const ENVELOPE_COLUMNS = ["_id", "_event_time", "_receive_time", "_schema_version"] as const;
export const EXTRA_COLUMN = "_extra";
const RESERVED = new Set<string>([...ENVELOPE_COLUMNS, EXTRA_COLUMN]);

/** The compiled plan. Callers only see `columns`; the encoder needs the rest. */
export class CompiledPlan implements ColumnPlan {
  readonly columns: readonly { name: string; type: string }[];
  constructor(
    /** The schema's top-level properties, in declaration order. */
    readonly fields: readonly FieldSpec[],
    /** Names in `fields`, to find undeclared top-level keys for `_extra`. */
    readonly declared: ReadonlySet<string>,
    /** Parquet field ids by `parquetPathKey`; empty when the version has no assignment. */
    readonly fieldIds: ReadonlyMap<string, number> = new Map(),
  ) {
    this.columns = [
      { name: "_id", type: describe(STRING) },
      { name: "_event_time", type: describe(TIMESTAMP) },
      { name: "_receive_time", type: describe(TIMESTAMP) },
      { name: "_schema_version", type: describe(INT32) },
      ...fields.map((f) => ({ name: f.name, type: describe(f.type) })),
      { name: EXTRA_COLUMN, type: describe(JSON_TEXT) },
    ];
  }
}

const STRING: ColumnType = { kind: "string" };
const TIMESTAMP: ColumnType = { kind: "timestamp" };
const DATE: ColumnType = { kind: "date" };
const INT64: ColumnType = { kind: "int64" };
const INT32: ColumnType = { kind: "int32" };
const DOUBLE: ColumnType = { kind: "double" };
const BOOLEAN: ColumnType = { kind: "boolean" };
const JSON_TEXT: ColumnType = { kind: "json" };

export function describe(t: ColumnType): string {
  switch (t.kind) {
    case "string":
      return "UTF8";
    case "timestamp":
      return "TIMESTAMP(MICROS,UTC)";
    case "date":
      return "DATE";
    case "int64":
      return "INT64";
    case "int32":
      return "INT32";
    case "double":
      return "DOUBLE";
    case "boolean":
      return "BOOLEAN";
    case "json":
      return "JSON";
    case "list":
      return `LIST<${describe(t.item)}>`;
    case "struct":
      return `STRUCT<${t.fields.map((f) => `${f.name}: ${describe(f.type)}`).join(", ")}>`;
  }
}

/**
 * Compiles `schema` (draft-07 or 2020-12). Throws when a top-level property would collide with an
 * envelope column or `_extra`, since silently renaming or dropping it would lose data; schema
 * registration can call this to reject such a schema early.
 */
export function planColumns(schema: JsonSchema, fieldIds?: FieldIdMap): CompiledPlan {
  const root = isObject(schema) ? schema : {};
  // The root is always an object (records are JSON objects), so its properties are used even when
  // it leaves out `type: "object"`, which hand-written schemas often do.
  const rootNode = followRoot(root);
  const fields = propertiesOf(rootNode, root, []);
  for (const f of fields) {
    if (RESERVED.has(f.name)) {
      throw new Error(
        `schema property "${f.name}" collides with Sluice's reserved column of the same name; rename it`,
      );
    }
  }
  return new CompiledPlan(
    fields,
    new Set(fields.map((f) => f.name)),
    fieldIds ? parquetFieldIds(fieldIds) : new Map(),
  );
}

export type Node = Record<string, unknown>;

function isObject(v: unknown): v is Node {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The node a record's columns come from: the root, through any `$ref`s (but not `allOf`). */
export function followRoot(root: Node): Node {
  const seen = new Set<string>();
  let node = root;
  while (typeof node.$ref === "string" && !seen.has(node.$ref)) {
    seen.add(node.$ref);
    const target = resolveLocalRef(root, node.$ref);
    if (!target) break;
    node = target;
  }
  return node;
}

function propertiesOf(node: Node, root: Node, refs: readonly string[]): FieldSpec[] {
  const props = node.properties;
  if (!isObject(props)) return [];
  return Object.keys(props).map((name) => ({
    name,
    type: typeOf(props[name], root, refs),
    shadowsPrototype: name in Object.prototype,
  }));
}

/** `#/definitions/x`, `#/$defs/x` or any other pointer into the same document. */
function resolveLocalRef(root: Node, ref: string): Node | undefined {
  if (ref === "#") return root;
  if (!ref.startsWith("#/")) return undefined;
  let cur: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (!isObject(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = cur[key];
  }
  return isObject(cur) ? cur : undefined;
}

function isNullSchema(s: unknown): boolean {
  return isObject(s) && s.type === "null" && Object.keys(s).every((k) => k === "type" || k === "description");
}

/** A column's kind at one schema node, and for lists and structs the node their children come from. */
export interface ColumnShape {
  readonly kind: Exclude<ColumnType["kind"], "int32">;
  /** For `list` and `struct`: the node whose `items` or `properties` become the children. */
  readonly node?: Node;
  /** The `$ref`s expanded on the way, passed on to the children. */
  readonly refs: readonly string[];
}

const JSON_SHAPE: ColumnShape = { kind: "json", refs: [] };

/**
 * One level of the mapping: the schema-compatibility checker compares kinds node by node with
 * it, and `typeOf` recurses with it, so both always agree on what a node's column is.
 */
export function columnShape(schema: unknown, root: Node, refs: readonly string[]): ColumnShape {
  if (!isObject(schema)) return JSON_SHAPE; // `true`, `false`, or malformed
  if (typeof schema.$ref === "string") {
    const ref = schema.$ref;
    // A ref already being expanded on this path is recursive; its values are kept as JSON text.
    if (refs.includes(ref)) return JSON_SHAPE;
    const target = resolveLocalRef(root, ref);
    return target ? columnShape(target, root, [...refs, ref]) : JSON_SHAPE;
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1 && schema.type === undefined) {
    return columnShape(schema.allOf[0], root, refs);
  }
  for (const key of ["anyOf", "oneOf"] as const) {
    const alts = schema[key];
    if (Array.isArray(alts) && schema.type === undefined) {
      // `anyOf: [T, {type: "null"}]` is how many generators spell a nullable T; anything wider is a
      // real union, which no single Parquet type holds.
      const nonNull = alts.filter((a) => !isNullSchema(a));
      return nonNull.length === 1 && alts.length > 1 ? columnShape(nonNull[0], root, refs) : JSON_SHAPE;
    }
  }
  let type = schema.type;
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== "null");
    type = nonNull.length === 1 ? nonNull[0] : undefined;
  }
  if (type === undefined) return { kind: inferFromEnum(schema), refs };
  switch (type) {
    case "string":
      if (schema.format === "date-time") return { kind: "timestamp", refs };
      if (schema.format === "date") return { kind: "date", refs };
      return { kind: "string", refs };
    case "integer":
      return { kind: "int64", refs };
    case "number":
      return { kind: "double", refs };
    case "boolean":
      return { kind: "boolean", refs };
    case "array":
      // Tuples (draft-07 `items: [...]`, 2020-12 `prefixItems`) mix types by position.
      if (Array.isArray(schema.items) || schema.prefixItems !== undefined) return JSON_SHAPE;
      return { kind: "list", node: schema, refs };
    case "object":
      // Parquet has no empty group, and a property-less object is a free-form map anyway.
      return isObject(schema.properties) && Object.keys(schema.properties).length > 0
        ? { kind: "struct", node: schema, refs }
        : JSON_SHAPE;
    default:
      return JSON_SHAPE;
  }
}

const LEAVES: Record<Exclude<ColumnShape["kind"], "list" | "struct">, ColumnType> = {
  string: STRING,
  timestamp: TIMESTAMP,
  date: DATE,
  int64: INT64,
  double: DOUBLE,
  boolean: BOOLEAN,
  json: JSON_TEXT,
};

function typeOf(schema: unknown, root: Node, refs: readonly string[]): ColumnType {
  const shape = columnShape(schema, root, refs);
  switch (shape.kind) {
    case "list": {
      const items = shape.node!.items;
      return { kind: "list", item: items === undefined ? JSON_TEXT : typeOf(items, root, shape.refs) };
    }
    case "struct":
      return { kind: "struct", fields: propertiesOf(shape.node!, root, shape.refs) };
    default:
      return LEAVES[shape.kind];
  }
}

/** An untyped `enum`/`const` of only strings (or only booleans) still has one clear column type. */
function inferFromEnum(schema: Node): "string" | "boolean" | "json" {
  const values = Array.isArray(schema.enum) ? schema.enum : "const" in schema ? [schema.const] : undefined;
  if (!values || values.length === 0) return "json";
  if (values.every((v) => typeof v === "string")) return "string";
  if (values.every((v) => typeof v === "boolean")) return "boolean";
  return "json";
}
