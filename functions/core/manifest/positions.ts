/** Paths into the parsed manifest data and the YAML positions they map back to. */
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type parseDocument,
} from "yaml";

export type Segment = string | number;
export type Anchor = "key" | "value" | { readonly within: string };

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Maps a path in the parsed data back to the YAML node it came from. */
export class SourceMap {
  constructor(
    private readonly doc: ReturnType<typeof parseDocument>,
    private readonly lines: LineCounter,
    private readonly text: string,
  ) {}

  position(path: readonly Segment[], anchor: Anchor): Position {
    const { key, node, complete } = this.find(path);
    let offset: number | undefined;
    if (!complete || anchor === "key") {
      offset = key?.range?.[0] ?? node?.range?.[0];
    } else if (isScalar(node) && node.range && node.range[1] > node.range[0]) {
      offset = node.range[0];
      if (typeof anchor === "object") {
        // Point at the offending part of a one-line scalar, e.g. one placeholder of a prefix.
        const raw = this.text.slice(node.range[0], node.range[1]);
        const at = raw.indexOf(anchor.within);
        if (at >= 0 && !raw.slice(0, at).includes("\n")) offset += at;
      }
    } else if ((isMap(node) || isSeq(node)) && node.flow) {
      offset = node.range?.[0];
    } else {
      // A block collection starts on the line after its key; the key is where people look.
      offset = key?.range?.[0] ?? node?.range?.[0];
    }
    if (offset === undefined) return { line: 1, column: 1 };
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private find(path: readonly Segment[]): { key?: Node; node?: Node; complete: boolean } {
    let node: unknown = this.doc.contents;
    let key: Node | undefined;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      let next: unknown;
      let nextKey: Node | undefined;
      let found = false;
      if (isMap(node)) {
        for (const pair of node.items) {
          const name = isScalar(pair.key) ? String(pair.key.value) : pair.key;
          if (name === String(segment)) {
            next = pair.value;
            nextKey = isNode(pair.key) ? pair.key : undefined;
            found = true;
            break;
          }
        }
      } else if (isSeq(node) && typeof segment === "number" && segment < node.items.length) {
        next = node.items[segment];
        found = true;
      }
      // Keys that came in through a `<<` merge are not in this map: stop at the deepest match.
      if (!found) return { key, node: asNode(node), complete: false };
      node = next;
      key = nextKey;
    }
    return { key, node: asNode(node), complete: true };
  }
}

function asNode(value: unknown): Node | undefined {
  return isNode(value) ? value : undefined;
}

/** `pipelines[0].steps[1].rename["a.b"]` */
export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export function pointer(path: readonly Segment[]): string {
  return path.map((segment) => `/${String(segment).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

/** Turns an ajv instancePath into segments, using the data to tell list indexes from keys. */
export function segmentsOf(instancePath: string, data: unknown): Segment[] {
  if (instancePath === "") return [];
  const out: Segment[] = [];
  let value = data;
  for (const raw of instancePath.slice(1).split("/")) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(value)) {
      const index = Number(part);
      out.push(index);
      value = value[index];
    } else {
      out.push(part);
      value = isRecord(value) ? value[part] : undefined;
    }
  }
  return out;
}

export function valueAt(data: unknown, path: readonly Segment[]): unknown {
  let value = data;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === "number") value = value[segment];
    else if (isRecord(value)) value = value[String(segment)];
    else return undefined;
  }
  return value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}
