/**
 * Stable Parquet field ids per subject, so readers that match columns by id (Iceberg, Spark) keep
 * them straight across schema versions. A column is named by its schema path
 * (`/properties/user/properties/name`, `/properties/tags/items`); a path keeps its id for as long
 * as its column type stays readable (the same, or INT64 widened to DOUBLE), and gets a fresh id
 * when the type changes otherwise. Ids only ever grow, so none is reused.
 */
import { type ColumnType, describe, type FieldSpec } from "./columns.ts";

/** Schema path -> field id, for the columns of one schema version. */
export type FieldIdMap = Readonly<Record<string, number>>;

/** What a subject has handed out: every path ever seen, with its current id and column type. */
export interface FieldIdState {
  readonly next: number;
  readonly paths: Readonly<Record<string, { readonly id: number; readonly type: string }>>;
}

/** The envelope columns and `_extra` have the same ids in every file of every subject. */
export const RESERVED_FIELD_IDS: Readonly<Record<string, number>> = {
  _id: 1,
  _event_time: 2,
  _receive_time: 3,
  _schema_version: 4,
  _extra: 5,
};
export const FIRST_FIELD_ID = 6;
export const EMPTY_FIELD_IDS: FieldIdState = { next: FIRST_FIELD_ID, paths: {} };

const escapeName = (name: string) => name.replaceAll("~", "~0").replaceAll("/", "~1");
const unescapeName = (segment: string) => segment.replaceAll("~1", "/").replaceAll("~0", "~");

/** The type a node is compared by: a leaf's Parquet type, or just LIST / STRUCT for groups. */
function nodeType(t: ColumnType): string {
  return t.kind === "list" ? "LIST" : t.kind === "struct" ? "STRUCT" : describe(t);
}

/** Every column node in file order (a group before its children), with its schema path. */
export function columnNodes(fields: readonly FieldSpec[]): { path: string; type: string }[] {
  const out: { path: string; type: string }[] = [];
  const visit = (path: string, t: ColumnType) => {
    out.push({ path, type: nodeType(t) });
    if (t.kind === "list") visit(`${path}/items`, t.item);
    else if (t.kind === "struct")
      for (const f of t.fields) visit(`${path}/properties/${escapeName(f.name)}`, f.type);
  };
  for (const f of fields) visit(`/properties/${escapeName(f.name)}`, f.type);
  return out;
}

function keepsId(before: string, after: string): boolean {
  return before === after || (before === "INT64" && after === "DOUBLE");
}

/** Ids for a new version's columns, and the subject's state after handing them out. */
export function assignFieldIds(
  fields: readonly FieldSpec[],
  state: FieldIdState = EMPTY_FIELD_IDS,
): { ids: FieldIdMap; state: FieldIdState } {
  const ids: Record<string, number> = {};
  const paths = { ...state.paths };
  let next = state.next;
  for (const node of columnNodes(fields)) {
    const seen = paths[node.path];
    const id = seen && keepsId(seen.type, node.type) ? seen.id : next++;
    ids[node.path] = id;
    paths[node.path] = { id, type: node.type };
  }
  return { ids, state: { next, paths } };
}

/** Key of a Parquet schema element by its path of names, as the writer looks ids up. */
export function parquetPathKey(path: readonly string[]): string {
  return JSON.stringify(path);
}

/**
 * The ids by Parquet path: a list's id on its group, its items' on `list.element` (the standard
 * three-level layout), as Iceberg writes them; plus the reserved columns.
 */
export function parquetFieldIds(ids: FieldIdMap): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  for (const [name, id] of Object.entries(RESERVED_FIELD_IDS)) out.set(parquetPathKey([name]), id);
  for (const [path, id] of Object.entries(ids)) {
    const names: string[] = [];
    const segments = path.split("/").slice(1);
    for (let i = 0; i < segments.length; i++) {
      if (segments[i] === "properties") names.push(unescapeName(segments[++i] ?? ""));
      else if (segments[i] === "items") names.push("list", "element");
    }
    out.set(parquetPathKey(names), id);
  }
  return out;
}
