/**
 * Opaque cursors: base64url JSON of the query they continue (range, key, fields), the snapshot
 * its first page read, and the last position returned. Not signed: a cursor only narrows what
 * the caller may read anyway; a forged one can ask for nothing its holder could not ask directly.
 */
import { SluiceError } from "../errors.ts";
import type { LakeSnapshot, Position } from "./types.ts";

export interface CursorState {
  readonly stream: string;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly key?: string;
  readonly fields?: readonly string[];
  readonly snapshot: LakeSnapshot;
  readonly after: Position;
}

export function encodeCursor(c: CursorState): string {
  return Buffer.from(JSON.stringify({ v: 1, ...c }), "utf8").toString("base64url");
}

function bad(message: string): SluiceError {
  return new SluiceError("INVALID_CURSOR", message, 400, "/cursor");
}

const isNum = (v: unknown) => typeof v === "number" && Number.isFinite(v);

export function decodeCursor(text: string, stream: string): CursorState {
  if (!/^[A-Za-z0-9_-]{1,8192}$/.test(text)) throw bad("cursor is not one this API issued (not base64url)");
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw bad("cursor is not one this API issued (not JSON)");
  }
  const c = raw as Record<string, unknown>;
  const after = c?.after as Record<string, unknown> | undefined;
  const snapshot = c?.snapshot as Record<string, unknown> | undefined;
  if (
    typeof c !== "object" ||
    c === null ||
    c.v !== 1 ||
    typeof c.stream !== "string" ||
    (c.fromMs !== undefined && !isNum(c.fromMs)) ||
    (c.toMs !== undefined && !isNum(c.toMs)) ||
    (c.key !== undefined && typeof c.key !== "string") ||
    (c.fields !== undefined && !(Array.isArray(c.fields) && c.fields.every((f) => typeof f === "string"))) ||
    typeof snapshot !== "object" ||
    snapshot === null ||
    !Object.values(snapshot).every((s) => typeof s === "string" && /^[0-9]{1,128}$/.test(s)) ||
    typeof after !== "object" ||
    after === null ||
    !isNum(after.ts) ||
    typeof after.id !== "string"
  )
    throw bad("cursor is not one this API issued (its fields are not a cursor's)");
  if (c.stream !== stream)
    throw bad(`cursor belongs to stream ${JSON.stringify(c.stream)}, not ${JSON.stringify(stream)}`);
  return c as unknown as CursorState;
}
