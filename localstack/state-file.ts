/** TEST INFRASTRUCTURE ONLY: the whole-file JSON state the in-repo emulators persist (KMS keys, Glue catalog). */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

/** The parsed file, or undefined when there is none yet (a first start). */
export function readStateFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text);
}

/**
 * Replaces `file` with `value` as JSON: written to a temp file, then renamed over it, so a crash
 * leaves the old state or the new one, never half of either. Synchronous on purpose: the caller
 * answers only after this returns, and no other request runs in between.
 */
export function writeStateFile(file: string, value: unknown, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  // writeFileSync keeps the mode of a temp file left by an earlier crash; make sure.
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}
