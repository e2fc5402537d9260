/**
 * What the fault suite shares: a producer that retries as a real one would (same idempotency key,
 * until it gets a definitive answer), and a count of every marker in the lake: rows in the data
 * files (read with DuckDB) and lines under errors/ (read from the gzipped JSON lines).
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { sleep } from "../../functions/core/backoff.ts";
import { CheckpointStore } from "../../functions/core/checkpoints.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, download, duckdb, getBytes, listKeys } from "../support/env.ts";

export interface Marked {
  readonly data: Record<string, unknown>;
  readonly key: string;
}

/** A valid feedback record whose customerId is its marker. */
export function feedback(marker: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    customerId: marker,
    content: `text of ${marker}`,
    category: "other",
    isNegative: false,
    tags: ["t"],
    ts: "2026-11-23T10:15:00Z",
    ...extra,
  };
}

export function marked(prefix: string, n: number, extra: Record<string, unknown> = {}): Marked[] {
  return Array.from({ length: n }, (_, i) => ({
    data: feedback(`${prefix}-${i}`, extra),
    key: `${prefix}-k${i}`,
  }));
}

export interface SendOutcome {
  /** Marker -> record id, for every record answered accepted or duplicate. */
  readonly accepted: Map<string, string>;
  /** Marker -> the code of a definitive rejection (the producer's fault). */
  readonly rejected: Map<string, string>;
  /** Requests that got no definitive answer at first (5xx, 409, a dropped connection). */
  readonly retries: number;
}

const RETRYABLE = new Set(["IN_PROGRESS", "THROTTLED", "UNAVAILABLE"]);

export type RecordAnswer = { recordId: string | null; status: string; error?: { code: string } };

/** Files each record's answer as accepted or rejected; returns those to send again. */
export function sortAnswers(
  open: readonly Marked[],
  results: readonly RecordAnswer[] | undefined,
  accepted: Map<string, string>,
  rejected: Map<string, string>,
): Marked[] {
  const again: Marked[] = [];
  open.forEach((r, i) => {
    const result = results?.[i];
    const marker = String(r.data.customerId);
    if (result && (result.status === "accepted" || result.status === "duplicate")) {
      accepted.set(marker, result.recordId!);
    } else if (result?.status === "rejected" && !RETRYABLE.has(result.error?.code ?? "")) {
      rejected.set(marker, result.error!.code);
    } else {
      again.push(r);
    }
  });
  return again;
}

/** Sends `records` in one request, then retries what got no definitive answer, until `deadlineMs`. */
export async function sendUntilAnswered(
  url: string,
  headers: Record<string, string>,
  records: readonly Marked[],
  deadlineMs = 60_000,
  pauseMs = 250,
): Promise<SendOutcome> {
  const accepted = new Map<string, string>();
  const rejected = new Map<string, string>();
  let open = [...records];
  let retries = 0;
  const until = Date.now() + deadlineMs;
  while (open.length > 0) {
    assert.ok(Date.now() < until, `${open.length} records got no definitive answer in ${deadlineMs} ms`);
    let results: RecordAnswer[] | undefined;
    try {
      const res = await fetch(`${url}/v1/streams/feedback/records`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ records: open.map((r) => ({ data: r.data, key: r.key })) }),
      });
      const body = (await res.json()) as { results?: typeof results };
      results = body.results;
    } catch {
      results = undefined;
    }
    const again = sortAnswers(open, results, accepted, rejected);
    if (again.length > 0) {
      retries++;
      await sleep(pauseMs);
    }
    open = again;
  }
  return { accepted, rejected, retries };
}

export function send(
  runner: LocalRunner,
  records: readonly Marked[],
  deadlineMs?: number,
): Promise<SendOutcome> {
  return sendUntilAnswered(runner.url, authHeader(runner), records, deadlineMs);
}

export interface ErrorLine {
  readonly recordId: string | null;
  readonly pipeline: string;
  readonly stage: string;
  readonly code: string;
  readonly message: string;
  readonly payload: unknown;
}

export interface LakeCount {
  /** Marker -> rows in data files (customerId). */
  readonly data: Map<string, number>;
  /** Marker -> lines under errors/. */
  readonly errors: Map<string, number>;
  readonly errorLines: ErrorLine[];
  /** Record id -> rows, across data files. */
  readonly ids: Map<string, number>;
  readonly dataKeys: string[];
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function markerOf(payload: unknown): string | undefined {
  if (payload && typeof payload === "object" && "customerId" in payload) return String(payload.customerId);
  if (typeof payload === "string") return /"customerId"\s*:\s*"([^"]+)"/.exec(payload)?.[1];
  return undefined;
}

/** Every marker in the bucket (or one pipeline's share of it), counted in data files and in errors/. */
export async function countLake(runner: LocalRunner, bucket: string, pipeline?: string): Promise<LakeCount> {
  const keys = await listKeys(runner.clients.s3, bucket);
  const ours = (k: string): boolean =>
    pipeline === undefined ||
    k.startsWith(`errors/${pipeline}/`) ||
    (k.split("/").pop() ?? "").startsWith(`${pipeline}-shardId-`);
  const dataKeys = keys.filter((k) => k.endsWith(".parquet") && ours(k));
  const data = new Map<string, number>();
  const ids = new Map<string, number>();
  if (dataKeys.length > 0) {
    const dir = await download(runner.clients.s3, bucket, dataKeys);
    const rows = await duckdb<{ _id: string; customerId: string }>(
      `SELECT _id, customerId FROM read_parquet('${dir}/*.parquet', union_by_name = true)`,
    );
    for (const r of rows) {
      bump(data, r.customerId);
      bump(ids, r._id);
    }
  }
  const errors = new Map<string, number>();
  const errorLines: ErrorLine[] = [];
  for (const key of keys.filter((k) => k.startsWith("errors/") && ours(k))) {
    const text = gunzipSync(await getBytes(runner.clients.s3, bucket, key)).toString("utf8");
    for (const line of text.split("\n").filter((l) => l !== "")) {
      const parsed = JSON.parse(line) as ErrorLine;
      errorLines.push(parsed);
      const marker = markerOf(parsed.payload);
      if (marker !== undefined) bump(errors, marker);
    }
  }
  return { data, errors, errorLines, ids, dataKeys };
}

/**
 * The suite's one claim: every accepted marker is in exactly one place, a data row or an error
 * line; none is missing, none is there twice. Returns the figures for the report.
 */
export function assertExactlyOnce(
  count: LakeCount,
  accepted: Iterable<string>,
  where: (marker: string) => "data" | "errors" | "either" = () => "either",
): { markers: number; missing: number; duplicated: number } {
  let markers = 0;
  const missing: string[] = [];
  const duplicated: string[] = [];
  const misplaced: string[] = [];
  for (const m of accepted) {
    markers++;
    const d = count.data.get(m) ?? 0;
    const e = count.errors.get(m) ?? 0;
    if (d + e === 0) missing.push(m);
    else if (d + e > 1) duplicated.push(`${m} (data ${d}, errors ${e})`);
    else if (where(m) !== "either" && (where(m) === "data") !== (d === 1)) misplaced.push(m);
  }
  assert.deepEqual(missing, [], `missing: ${missing.length}`);
  assert.deepEqual(duplicated, [], `duplicated: ${duplicated.length}`);
  assert.deepEqual(misplaced, [], `in the wrong place: ${misplaced.length}`);
  for (const [id, n] of count.ids) assert.equal(n, 1, `record id ${id} is in the data ${n} times`);
  return { markers, missing: missing.length, duplicated: duplicated.length };
}

export function checkpointOf(runner: LocalRunner, pipeline: string, shard = "shardId-000000000000") {
  return new CheckpointStore(runner.clients.dynamo, runner.config.tables.checkpoints).get(pipeline, shard);
}
