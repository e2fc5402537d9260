/** What one comparison run carries: the direction, the version compared against, and the findings. */
import type { Node } from "./schema-nodes.ts";

export type Direction = "backward" | "forward";

/** One place in one of the two documents. */
export interface Side {
  readonly doc: Node;
  /** The schema at this place as written (before `$ref`s are followed). */
  readonly raw: unknown;
  readonly loc: string;
  /** The `$ref`s columns.ts would have expanded to get here; only meaningful inside columns. */
  readonly refs: readonly string[];
  /** Not in the document: an absent `items` or `additionalProperties`; `loc` is the parent's. */
  readonly synthetic?: boolean;
}

export interface Finding {
  readonly pointer: string;
  readonly reason: string;
}

export interface Run {
  /** backward: the existing version writes, the candidate reads; forward: the other way round. */
  readonly direction: Direction;
  readonly version: number;
  readonly findings: Finding[];
  /** Node pairs already compared (or being compared), so recursive schemas end. */
  readonly seen: Set<string>;
  /** Compares two child nodes; compare.ts supplies it so the rule modules need not import it back. */
  readonly compare: (old: Side, candidate: Side, inColumn: boolean) => void;
}

export function report(run: Run, pointer: string, reason: string): void {
  run.findings.push({ pointer, reason });
}

/** The side whose records must be accepted, and the side that must accept them. */
export function roles<T>(run: Run, old: T, candidate: T): { writer: T; reader: T } {
  return run.direction === "backward"
    ? { writer: old, reader: candidate }
    : { writer: candidate, reader: old };
}

/** Where a finding about `keyword` points: at the keyword when the candidate has it, else at the node. */
export function keywordPointer(loc: string, node: Node, keyword: string): string {
  return node[keyword] === undefined ? loc : `${loc}/${keyword}`;
}
