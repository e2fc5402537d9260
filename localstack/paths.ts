import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Local state of dev tooling (gitignored). */
export const SLUICE_DIR = path.join(REPO_ROOT, ".sluice");
/** Downloads that survive across runs. */
export const CACHE_DIR = path.join(SLUICE_DIR, "cache");
export const CLI_DATA_DIR = path.join(SLUICE_DIR, "localstack");
export const PID_FILE = path.join(SLUICE_DIR, "localstack.pid");
