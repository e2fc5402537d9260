/**
 * Definition and repetition levels (Dremel) of one leaf for a range of rows, and which values of
 * the leaf's column those rows hold. Computed a nesting level at a time over typed arrays: each
 * slot carries the index of its value in the current nested column, or -1 once a null or an empty
 * list ended it (its definition level is then fixed).
 *
 * The arrays are scratch reused by the next call: use the result before computing another.
 */
import type { ColumnData, ListColumn } from "./types.ts";

export interface Levels {
  /** Level slots: one per value, null and empty list. */
  readonly count: number;
  /**
   * Undefined when every slot holds a value of a column under no list (a top-level column
   * without nulls): each definition level is then the maximum, 1.
   */
  readonly def: Uint8Array | undefined;
  /** Undefined when the leaf is under no list (every level 0). */
  readonly rep: Uint8Array | undefined;
  readonly valueCount: number;
  /**
   * Index in the leaf's column of each value, in order; undefined when value k is at `base + k`
   * (a top-level column without nulls).
   */
  readonly index: Int32Array | undefined;
  readonly base: number;
}

/** Two generations of each array: a list level reads one and writes the other. */
const pool = {
  def: [new Uint8Array(0), new Uint8Array(0)],
  rep: [new Uint8Array(0), new Uint8Array(0)],
  idx: [new Int32Array(0), new Int32Array(0)],
};

function u8(which: "def" | "rep", gen: number, n: number): Uint8Array {
  let a = pool[which][gen]!;
  if (a.length < n) {
    a = new Uint8Array(Math.max(n, a.length * 2));
    pool[which][gen] = a;
  }
  return a;
}

function i32(gen: number, n: number): Int32Array {
  let a = pool.idx[gen]!;
  if (a.length < n) {
    a = new Int32Array(Math.max(n, a.length * 2));
    pool.idx[gen] = a;
  }
  return a;
}

function isValid(validity: Uint8Array, i: number): boolean {
  return ((validity[i >> 3]! >> (i & 7)) & 1) === 1;
}

/** Levels of rows `[from, to)` for the leaf reached through `chain` (top-level column first). */
export function computeLevels(chain: readonly ColumnData[], from: number, to: number): Levels {
  const top = chain[0]!;
  // One function per shape, each with its own loops: one function for all of them was optimized
  // for one shape and deoptimized by the next, chunk after chunk.
  if (chain.length === 1) {
    if (top.nullCount > 0) return flatLevels(top.validity!, from, to);
    return {
      count: to - from,
      def: undefined,
      rep: undefined,
      valueCount: to - from,
      index: undefined,
      base: from,
    };
  }
  if (chain.length === 2 && top.kind === "list") return listLevels(top, chain[1]!, from, to);
  return nestedLevels(chain, from, to);
}

/** A top-level column with nulls. */
function flatLevels(validity: Uint8Array, from: number, to: number): Levels {
  const rows = to - from;
  const def = u8("def", 0, rows).subarray(0, rows);
  const index = i32(0, rows);
  let v = 0;
  for (let s = 0; s < rows; s++) {
    const i = from + s;
    if (isValid(validity, i)) {
      def[s] = 1;
      index[v++] = i;
    } else {
      def[s] = 0;
    }
  }
  return { count: rows, def, rep: undefined, valueCount: v, index, base: 0 };
}

/** Any nesting, a level at a time. */
function nestedLevels(chain: readonly ColumnData[], from: number, to: number): Levels {
  const rows = to - from;
  let gen = 0;
  let count = rows;
  let def = u8("def", gen, count);
  let rep = u8("rep", gen, count);
  let idx = i32(gen, count);
  for (let s = 0; s < count; s++) idx[s] = from + s;
  rep.fill(0, 0, count);
  let level = 0;
  let repLevel = 0;
  for (const node of chain) {
    if (node.nullCount > 0) {
      const validity = node.validity!;
      for (let s = 0; s < count; s++) {
        const i = idx[s]!;
        if (i >= 0 && !isValid(validity, i)) {
          idx[s] = -1;
          def[s] = level;
        }
      }
    }
    level++;
    if (node.kind !== "list") continue;
    // Each live slot becomes one slot per item; an empty list stays one slot, defined up to here.
    repLevel++;
    const offsets = node.offsets;
    let next = 0;
    for (let s = 0; s < count; s++) {
      const i = idx[s]!;
      next += i < 0 ? 1 : Math.max(1, offsets[i + 1]! - offsets[i]!);
    }
    const g = 1 - gen;
    const nDef = u8("def", g, next);
    const nRep = u8("rep", g, next);
    const nIdx = i32(g, next);
    let t = 0;
    for (let s = 0; s < count; s++) {
      const i = idx[s]!;
      if (i < 0) {
        nDef[t] = def[s]!;
        nRep[t] = rep[s]!;
        nIdx[t++] = -1;
        continue;
      }
      const a = offsets[i]!;
      const b = offsets[i + 1]!;
      if (a === b) {
        nDef[t] = level;
        nRep[t] = rep[s]!;
        nIdx[t++] = -1;
        continue;
      }
      nRep[t] = rep[s]!;
      nIdx[t++] = a;
      for (let k = a + 1; k < b; k++) {
        nRep[t] = repLevel;
        nIdx[t++] = k;
      }
    }
    gen = g;
    count = next;
    def = nDef;
    rep = nRep;
    idx = nIdx;
    level++;
  }
  // Slots still live hold a value: compact their indices in place (v never passes s).
  let v = 0;
  for (let s = 0; s < count; s++) {
    const i = idx[s]!;
    if (i >= 0) {
      def[s] = level;
      idx[v++] = i;
    }
  }
  return {
    count,
    def: def.subarray(0, count),
    rep: repLevel > 0 ? rep.subarray(0, count) : undefined,
    valueCount: v,
    index: idx,
    base: 0,
  };
}

/**
 * A top-level list of primitive items (tags, `LIST<INT64>`), the common nested shape, in one pass.
 * The levels are those the general walk gives: 0 for a null list, 1 for an empty one, 2 for a null
 * item and 3 for a value. Without nulls the values are the chunk's items in order, so no index
 * is needed.
 */
function listLevels(list: ListColumn, item: ColumnData, from: number, to: number): Levels {
  const offsets = list.offsets;
  const first = offsets[from]!;
  const items = offsets[to]! - first;
  // At most one slot per item plus one per row (null or empty list).
  const bound = to - from + items;
  const def = u8("def", 0, bound);
  const rep = u8("rep", 0, bound);
  const listValidity = list.nullCount > 0 ? list.validity : undefined;
  const itemValidity = item.nullCount > 0 ? item.validity : undefined;
  const index = itemValidity !== undefined || listValidity !== undefined ? i32(0, items) : undefined;
  let s = 0;
  let v = 0;
  for (let r = from; r < to; r++) {
    const a = offsets[r]!;
    const b = offsets[r + 1]!;
    if (a === b || (listValidity !== undefined && !isValid(listValidity, r))) {
      def[s] = a === b && (listValidity === undefined || isValid(listValidity, r)) ? 1 : 0;
      rep[s++] = 0;
      continue;
    }
    rep[s] = 0;
    for (let k = a; k < b; k++) {
      if (k > a) rep[s] = 1;
      if (itemValidity !== undefined && !isValid(itemValidity, k)) {
        def[s++] = 2;
      } else {
        def[s++] = 3;
        if (index !== undefined) index[v] = k;
        v++;
      }
    }
  }
  return {
    count: s,
    def: def.subarray(0, s),
    rep: rep.subarray(0, s),
    valueCount: v,
    index,
    base: index === undefined ? first : 0,
  };
}
