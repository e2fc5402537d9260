/** The compatibility modes a subject can be set to, named as Confluent's Schema Registry names them. */

export const COMPATIBILITY_MODES = [
  "NONE",
  "BACKWARD",
  "BACKWARD_TRANSITIVE",
  "FORWARD",
  "FORWARD_TRANSITIVE",
  "FULL",
  "FULL_TRANSITIVE",
] as const;

export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

/** What a subject gets until someone sets a mode: consumers on the newest schema can read all data. */
export const DEFAULT_COMPATIBILITY: CompatibilityMode = "BACKWARD";

export function isCompatibilityMode(v: unknown): v is CompatibilityMode {
  return typeof v === "string" && (COMPATIBILITY_MODES as readonly string[]).includes(v);
}
