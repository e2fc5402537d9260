/**
 * Named crash points in the ingest and batcher paths, for fault-injection tests: a test arms a
 * point to throw (the invocation fails there, as on a timeout) or to kill the process (as
 * `kill -9` or an out-of-memory end would), then counts what reached the lake. Nothing is armed
 * unless a test or the local runner arms it; an unarmed point costs one Map size check.
 */

export const FAILPOINTS = [
  /** Ingest: the idempotency claims are written, nothing is on Kinesis yet. */
  "ingest.after-claim",
  /** Ingest: PutRecords succeeded, the claims are not yet COMPLETED. */
  "ingest.after-put-records",
  /** Batcher: inside the transformer call, before its answer is used. */
  "batch.in-transform",
  /** Batcher: the keys about to be written are recorded, nothing is written yet. */
  "batch.after-begin",
  /** Batcher: after each PutObject (data or errors file). */
  "batch.after-put-object",
  /** Batcher: every object is written, the checkpoint has not moved. */
  "batch.before-commit",
  /** Batcher: the checkpoint moved, the event source has not been answered. */
  "batch.after-commit",
  /** Iceberg committer: manifests and metadata written, the Glue table not yet swapped. */
  "commit.before-swap",
  /** Iceberg committer: the table swapped, its pending-file items not yet removed. */
  "commit.after-swap",
  /** Iceberg compaction: the compacted files written, the replace snapshot not yet swapped in. */
  "compact.before-commit",
  /** Iceberg compaction: the replace snapshot swapped in, the maintenance cleanup not yet run. */
  "compact.after-commit",
] as const;

export type FailpointName = (typeof FAILPOINTS)[number];

export type FailAction = "throw" | "exit";

interface Armed {
  readonly action: FailAction;
  /** Passes to let through before firing. */
  skip: number;
  /** Fires left; Infinity for always. */
  times: number;
  fired: number;
}

const armed = new Map<FailpointName, Armed>();

export class FailpointError extends Error {
  override readonly name = "FailpointError";
  constructor(readonly point: FailpointName) {
    super(`failpoint ${point} fired`);
  }
}

export interface ArmOptions {
  /** Passes to let through before the first fire. @default 0 */
  readonly skip?: number;
  /** How many times to fire. @default 1 */
  readonly times?: number;
}

export function armFailpoint(name: FailpointName, action: FailAction, options: ArmOptions = {}): void {
  armed.set(name, { action, skip: options.skip ?? 0, times: options.times ?? 1, fired: 0 });
}

export function disarmFailpoints(): void {
  armed.clear();
}

/** How often each armed point has fired. */
export function failpointCounts(): Partial<Record<FailpointName, number>> {
  return Object.fromEntries([...armed].map(([name, a]) => [name, a.fired]));
}

/**
 * Arms points from a spec such as `ingest.after-put-records=exit` or
 * `batch.after-put-object=throw:skip=1:times=2`, comma-separated; for the local runner's
 * `SLUICE_FAILPOINTS`, never read by the functions themselves.
 */
export function armFailpointsFromSpec(spec: string): void {
  for (const entry of spec.split(",").filter((e) => e.trim() !== "")) {
    const [name, rest = ""] = entry.trim().split("=", 2) as [string, string?];
    if (!(FAILPOINTS as readonly string[]).includes(name)) {
      throw new Error(`unknown failpoint ${name}; known: ${FAILPOINTS.join(", ")}`);
    }
    const [action, ...options] = rest.split(":");
    if (action !== "throw" && action !== "exit")
      throw new Error(`failpoint ${name}: action must be throw or exit`);
    const opts: { skip?: number; times?: number } = {};
    for (const o of options) {
      const [k, v] = o.split("=");
      const n = v === "inf" ? Number.POSITIVE_INFINITY : Number(v);
      if ((k !== "skip" && k !== "times") || !(n >= 0)) throw new Error(`failpoint ${name}: bad option ${o}`);
      opts[k] = n;
    }
    armFailpoint(name as FailpointName, action, opts);
  }
}

/** A crash point: does nothing unless a test armed it. */
export function failpoint(name: FailpointName): void {
  if (armed.size === 0) return;
  const a = armed.get(name);
  if (!a || a.times <= 0) return;
  if (a.skip > 0) {
    a.skip--;
    return;
  }
  a.times--;
  a.fired++;
  // SIGKILL, not exit(): no handler, finally block or flush may run, as in a real crash.
  if (a.action === "exit") process.kill(process.pid, "SIGKILL");
  throw new FailpointError(name);
}
