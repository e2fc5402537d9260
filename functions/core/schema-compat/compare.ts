/**
 * Compares the existing version's schema with the candidate's, node by node, in one direction: can
 * every record the writer accepts be read by the reader, into the same Parquet column types?
 */
import { canonicalData, canonicalKeyword, canonicalSchema } from "./canonical.ts";
import { COLUMN_NAMES, type ColumnView, columnOf, rootColumn } from "./column-kinds.ts";
import { compareConstraints } from "./constraints.ts";
import {
  type Direction,
  type Finding,
  keywordPointer,
  type Run,
  report,
  roles,
  type Side,
} from "./context.ts";
import {
  acceptsType,
  allowedValues,
  effectiveTypes,
  type JsonType,
  readView,
  sameValue,
  showTypes,
  type View,
} from "./normalize.ts";
import { compareObjects } from "./objects.ts";
import type { Node } from "./schema-nodes.ts";

export function compareSchemas(old: Node, candidate: Node, direction: Direction, version: number): Finding[] {
  const run: Run = {
    direction,
    version,
    findings: [],
    seen: new Set(),
    compare: (o, n, inColumn) => compareNode(run, o, n, inColumn, false),
  };
  const side = (doc: Node): Side => ({ doc, raw: doc, loc: "", refs: [] });
  compareNode(run, side(old), side(candidate), true, true);
  return run.findings;
}

function compareNode(run: Run, o: Side, n: Side, inColumn: boolean, root: boolean): void {
  // Pointers are places in the documents and the column context is part of the key, so a pair
  // seen before would give the same findings again; a pair still being compared is recursion.
  const key = [place(o), place(n), inColumn ? `${o.refs.join(" ")}|${n.refs.join(" ")}` : "-", root].join(
    "\0",
  );
  if (run.seen.has(key)) return;
  run.seen.add(key);

  const ov = readView(o.raw, o.loc, o.doc);
  const nv = readView(n.raw, n.loc, n.doc);
  const here = n.synthetic ? n.loc : nv.loc;
  if (ov.whole || nv.whole) {
    if (canonicalSchema(o.raw, o.doc) !== canonicalSchema(n.raw, n.doc)) {
      report(run, here, unsupported((nv.whole ?? ov.whole)!));
    }
    return;
  }
  if (!compareTypes(run, ov, nv, n.synthetic ? n.loc : undefined, root)) return;

  let oc: ColumnView | undefined;
  let nc: ColumnView | undefined;
  if (inColumn) {
    oc = root ? rootColumn(o.doc) : columnOf(o.raw, o.doc, o.refs);
    nc = root ? rootColumn(n.doc) : columnOf(n.raw, n.doc, n.refs);
    // Old files keep their column types next to the new ones: INT64 -> DOUBLE is the one change a
    // table reader widens, and it is judged the same in both directions (forward, the JSON type
    // rule has already refused integer -> number).
    if (oc.kind !== nc.kind && !(oc.kind === "int64" && nc.kind === "double")) {
      report(run, here, `column type ${COLUMN_NAMES[oc.kind]} -> ${COLUMN_NAMES[nc.kind]}`);
      return;
    }
  }
  // Children are columns only where columns.ts reads the same node as the checker does; where it
  // does not, the checker is looking at a keyword it compares for identity anyway.
  const childColumns = (kind: "list" | "struct") =>
    oc?.kind === kind && nc?.kind === kind && oc.node === ov.node && nc.node === nv.node;

  for (const keyword of new Set([...ov.opaque, ...nv.opaque])) {
    if (canonicalKeyword(ov.node, keyword, o.doc) !== canonicalKeyword(nv.node, keyword, n.doc)) {
      report(run, keywordPointer(here, nv.node, keyword), unsupported(keyword));
    }
  }
  compareValues(run, ov, nv, here);
  compareConstraints(run, ov, nv);

  const { writer } = roles(run, ov, nv);
  const produces = effectiveTypes(writer);
  if (produces.has("array") && !ov.opaque.includes("items") && !nv.opaque.includes("items")) {
    run.compare(itemsSide(o, ov, oc), itemsSide(n, nv, nc), childColumns("list"));
  }
  if (produces.has("object")) {
    compareObjects(
      run,
      { doc: o.doc, view: ov, refs: oc?.refs ?? [] },
      { doc: n.doc, view: nv, refs: nc?.refs ?? [] },
      childColumns("struct"),
    );
  }
}

function place(s: Side): string {
  return s.synthetic ? `~${s.loc}` : s.loc;
}

function unsupported(keyword: string): string {
  return `unsupported change to ${keyword}; only identical definitions are compatible`;
}

/**
 * Every type the writer produces must be one the reader accepts. Returns false when the two share
 * no type at all (string -> integer): then nothing else at the node is worth comparing. When they
 * share some (null added or removed), the rest of the node is still compared.
 */
function compareTypes(run: Run, ov: View, nv: View, synthetic: string | undefined, root: boolean): boolean {
  // Records are JSON objects: at the root only the object part of a schema matters.
  const typesOf = (v: View): ReadonlySet<JsonType> => {
    const t = effectiveTypes(v);
    return root ? new Set([...t].filter((x) => x === "object")) : t;
  };
  const ot = typesOf(ov);
  const nt = typesOf(nv);
  const { writer, reader } = roles(run, ot, nt);
  const missing = [...writer].filter((t) => !acceptsType(t, reader));
  if (missing.length === 0) return true;
  const pointer = synthetic ?? (missing.every((t) => t === "null") ? nv.nullLoc : nv.loc);
  report(run, pointer, `type ${showTypes(ot)} -> ${showTypes(nt)}`);
  return missing.length < writer.size;
}

/** `enum` and `const`: every value the writer allows must be one the reader allows. */
function compareValues(run: Run, ov: View, nv: View, here: string): void {
  const { writer, reader } = roles(run, ov, nv);
  const readerValues = reader.values;
  if (!readerValues) return;
  const writerValues = allowedValues(writer);
  const pointer = nv.valuesKeyword ? `${nv.loc}/${nv.valuesKeyword}` : here;
  if (!writerValues) {
    const added = run.direction === "backward";
    const keyword = (added ? nv : ov).valuesKeyword ?? "enum";
    const values = keyword === "const" ? canonicalData(readerValues[0]) : canonicalData(readerValues);
    report(run, pointer, `${keyword} ${values} ${added ? "added" : "removed"}`);
    return;
  }
  for (const v of writerValues) {
    if (readerValues.some((x) => sameValue(x, v))) continue;
    if (ov.valuesKeyword === "const" && nv.valuesKeyword === "const" && ov.values?.length === 1) {
      report(run, pointer, `const ${canonicalData(ov.values[0])} -> ${canonicalData(nv.values?.[0])}`);
      continue;
    }
    report(
      run,
      pointer,
      `enum value ${canonicalData(v)} ${run.direction === "backward" ? "removed" : "added"}`,
    );
  }
}

function itemsSide(s: Side, v: View, column: ColumnView | undefined): Side {
  const refs = column?.refs ?? [];
  if (v.node.items === undefined) return { doc: s.doc, raw: true, loc: v.loc, refs, synthetic: true };
  return { doc: s.doc, raw: v.node.items, loc: `${v.loc}/items`, refs };
}
