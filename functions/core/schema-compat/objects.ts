/**
 * Object rules: declared properties, `required`, and what an object says about members it does not
 * declare. An open object's undeclared members are not part of the contract (Sluice keeps them in
 * `_extra`): that they may be present is, what they hold is not.
 */
import { canonicalSchema } from "./canonical.ts";
import { keywordPointer, type Run, report, roles, type Side } from "./context.ts";
import { readView, type View } from "./normalize.ts";
import { childPointer, isNode, type Node } from "./schema-nodes.ts";

export interface ObjectSide {
  readonly doc: Node;
  readonly view: View;
  /** The `$ref`s columns.ts expanded to reach this object, passed on to its properties. */
  readonly refs: readonly string[];
}

/** What an object does with a member it does not declare. */
type Rest = { readonly kind: "open" } | { readonly kind: "closed" } | { readonly kind: "schema" };

export function compareObjects(run: Run, old: ObjectSide, candidate: ObjectSide, columns: boolean): void {
  compareRequired(run, old, candidate);
  if (old.view.node.patternProperties !== undefined || candidate.view.node.patternProperties !== undefined) {
    // Which members a pattern covers depends on their names, so the three keywords stand or fall together.
    const group = (s: ObjectSide) =>
      canonicalSchema(pick(s.view.node, ["properties", "patternProperties", "additionalProperties"]), s.doc);
    if (group(old) !== group(candidate)) {
      report(
        run,
        keywordPointer(candidate.view.loc, candidate.view.node, "patternProperties"),
        "unsupported change to patternProperties; only identical definitions are compatible",
      );
    }
    return;
  }
  const oldProps = propertiesOf(old.view.node);
  const newProps = propertiesOf(candidate.view.node);
  for (const name of new Set([...Object.keys(newProps), ...Object.keys(oldProps)])) {
    compareMember(run, name, old, candidate, columns);
  }
  compareRest(run, old, candidate);
}

function pick(node: Node, keys: readonly string[]): Node {
  return Object.fromEntries(keys.filter((k) => node[k] !== undefined).map((k) => [k, node[k]]));
}

function propertiesOf(node: Node): Node {
  return isNode(node.properties) ? node.properties : {};
}

function declares(s: ObjectSide, name: string): boolean {
  return Object.hasOwn(propertiesOf(s.view.node), name);
}

function restOf(s: ObjectSide): Rest {
  const ap = s.view.node.additionalProperties;
  if (ap === false) return { kind: "closed" };
  // `{}` or a schema of annotations only is `true` spelled differently.
  if (ap === undefined || canonicalSchema(ap, s.doc) === "{}") return { kind: "open" };
  return { kind: "schema" };
}

function propertySide(s: ObjectSide, name: string): Side {
  return {
    doc: s.doc,
    raw: propertiesOf(s.view.node)[name],
    loc: childPointer(s.view.loc, "properties", name),
    refs: s.refs,
  };
}

function restSide(s: ObjectSide): Side {
  return {
    doc: s.doc,
    raw: s.view.node.additionalProperties,
    loc: `${s.view.loc}/additionalProperties`,
    refs: [],
  };
}

/** One member some side declares: the writer's schema for it must fit what the reader does with it. */
function compareMember(
  run: Run,
  name: string,
  old: ObjectSide,
  candidate: ObjectSide,
  columns: boolean,
): void {
  const inOld = declares(old, name);
  const inNew = declares(candidate, name);
  const { writer, reader } = roles(run, old, candidate);
  const writerDeclares = roles(run, inOld, inNew).writer;
  const readerDeclares = roles(run, inOld, inNew).reader;
  const writerRest = restOf(writer).kind;
  const readerRest = restOf(reader).kind;
  if (!writerDeclares && writerRest !== "schema") {
    // The writer never produces it (closed), or its value is outside the contract (open); only a
    // reader that forbids the name outright objects to its presence.
    if (writerRest === "open" && readView(propertySide(reader, name).raw, "", reader.doc).types.size === 0) {
      const from = run.direction === "backward" ? "undeclared" : "forbidden";
      const to = run.direction === "backward" ? "forbidden" : "undeclared";
      report(run, memberPointer(candidate, name), `field ${quote(name)} ${from} -> ${to}`);
    }
    return;
  }
  if (!readerDeclares && readerRest === "open") return;
  if (!readerDeclares && readerRest === "closed") {
    if (run.direction === "backward") {
      report(
        run,
        childPointer(old.view.loc, "properties", name),
        `field ${quote(name)} removed from a closed object (pointer into version ${run.version})`,
      );
    } else {
      report(
        run,
        childPointer(candidate.view.loc, "properties", name),
        `new field ${quote(name)} not allowed where additionalProperties was false`,
      );
    }
    return;
  }
  // Members that only an `additionalProperties` schema covers on one side are kept in `_extra`
  // there, so no column type is involved.
  const o = inOld ? propertySide(old, name) : restSide(old);
  const n = inNew ? propertySide(candidate, name) : restSide(candidate);
  run.compare(o, n, columns && inOld && inNew);
}

function memberPointer(s: ObjectSide, name: string): string {
  return declares(s, name) ? childPointer(s.view.loc, "properties", name) : s.view.loc;
}

function quote(name: string): string {
  return JSON.stringify(name);
}

/** Members neither side declares. */
function compareRest(run: Run, old: ObjectSide, candidate: ObjectSide): void {
  const o = restOf(old);
  const n = restOf(candidate);
  const { writer, reader } = roles(run, o, n);
  if (reader.kind === "open" || writer.kind === "closed") return;
  if (writer.kind === "schema" && reader.kind === "schema") {
    run.compare(restSide(old), restSide(candidate), false);
    return;
  }
  const show = (r: Rest) => (r.kind === "open" ? "true" : r.kind === "closed" ? "false" : "schema");
  report(
    run,
    keywordPointer(candidate.view.loc, candidate.view.node, "additionalProperties"),
    `additionalProperties ${show(o)} -> ${show(n)}`,
  );
}

function requiredOf(node: Node): readonly string[] {
  return Array.isArray(node.required) ? node.required.filter((r): r is string => typeof r === "string") : [];
}

/** A reader may require a member the writer does not guarantee only if the reader has a default for it. */
function hasDefault(s: ObjectSide, name: string): boolean {
  const prop = propertiesOf(s.view.node)[name];
  return isNode(prop) && Object.hasOwn(prop, "default");
}

function compareRequired(run: Run, old: ObjectSide, candidate: ObjectSide): void {
  const { writer, reader } = roles(run, old, candidate);
  const guaranteed = new Set(requiredOf(writer.view.node));
  requiredOf(reader.view.node).forEach((name, i) => {
    if (guaranteed.has(name) || hasDefault(reader, name)) return;
    if (run.direction === "backward") {
      const reason = declares(old, name)
        ? `optional field ${quote(name)} became required and has no default`
        : `new required field ${quote(name)} has no default`;
      report(run, childPointer(candidate.view.loc, "required", i), reason);
    } else if (declares(candidate, name)) {
      report(
        run,
        childPointer(candidate.view.loc, "properties", name),
        `field ${quote(name)} is no longer required`,
      );
    } else {
      report(
        run,
        childPointer(old.view.loc, "required", i),
        `required field ${quote(name)} removed (pointer into version ${run.version})`,
      );
    }
  });
}
