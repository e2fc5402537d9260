/**
 * Schema compatibility: whether a candidate schema may become a subject's next version under the
 * subject's compatibility mode. The rules are in docs/schema-compatibility.md.
 */
import type { JsonSchema } from "../manifest/types.ts";
import { compareSchemas } from "./compare.ts";
import type { Direction } from "./context.ts";
import type { CompatibilityMode } from "./modes.ts";

export {
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  DEFAULT_COMPATIBILITY,
  isCompatibilityMode,
} from "./modes.ts";

export interface Incompatibility {
  /**
   * JSON pointer into the candidate schema where the problem is, e.g. "/properties/ts" or
   * "/required/3"; into the existing version's schema when the problem is something the candidate
   * removed, and then the reason says so.
   */
  readonly pointer: string;
  /** Short and specific, e.g. `type string -> integer` or `new required field "region" has no default`. */
  readonly reason: string;
  /** The registered version this conflicts with. */
  readonly version: number;
  /**
   * "backward": the candidate cannot read what that version wrote; "forward": that version cannot
   * read what the candidate writes.
   */
  readonly direction: "backward" | "forward";
}

const DIRECTIONS: Readonly<Record<CompatibilityMode, readonly Direction[]>> = {
  NONE: [],
  BACKWARD: ["backward"],
  BACKWARD_TRANSITIVE: ["backward"],
  FORWARD: ["forward"],
  FORWARD_TRANSITIVE: ["forward"],
  FULL: ["backward", "forward"],
  FULL_TRANSITIVE: ["backward", "forward"],
};

/**
 * Every incompatibility between `candidate` and the versions `mode` compares it with: the latest
 * of `existing` (ascending by version), or all of them for the `_TRANSITIVE` modes. Empty when the
 * candidate is compatible, when `mode` is NONE and when there is no version yet.
 *
 * @example
 * checkCompatibility("BACKWARD", { properties: { n: { type: "integer" } } }, [
 *   { version: 1, schema: { properties: { n: { type: "string" } } } },
 * ]); // [{ pointer: "/properties/n", reason: "type string -> integer", version: 1, direction: "backward" }]
 */
export function checkCompatibility(
  mode: CompatibilityMode,
  candidate: JsonSchema,
  existing: readonly { readonly version: number; readonly schema: JsonSchema }[],
): Incompatibility[] {
  const directions = DIRECTIONS[mode];
  if (directions.length === 0 || existing.length === 0) return [];
  const sorted = [...existing].sort((a, b) => a.version - b.version);
  const against = mode.endsWith("_TRANSITIVE") ? sorted : sorted.slice(-1);
  const out: Incompatibility[] = [];
  for (const { version, schema } of against) {
    for (const direction of directions) {
      const seen = new Set<string>();
      for (const f of compareSchemas(schema, candidate, direction, version)) {
        // The same candidate node can be reached from several places (a shared definition).
        const key = `${f.pointer}\0${f.reason}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ pointer: f.pointer, reason: f.reason, version, direction });
      }
    }
  }
  return out;
}
