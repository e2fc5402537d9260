/**
 * `GET /v1/streams/{stream}/records` through the local runner, over Parquet the batcher wrote:
 * time ranges across hour partitions and rolled files, paged with cursors while more records are
 * committed, key lookups that the reader's counters show skipping row groups, NDJSON and Arrow
 * IPC (decoded by apache-arrow), and each kind of bad request answered with its own error.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { tableFromIPC } from "apache-arrow";
import { ApiKeyStore } from "../../functions/core/auth/api-keys.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, listKeys } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const FIXTURE = "test/fixtures/manifests/query.yaml";
const BASE = Date.UTC(2026, 10, 23, 9, 0, 0);
/** Event time of the i-th record: 90 s apart, so 120 records span 09:00 to 12:00 (three partitions). */
const tsOf = (i: number) => new Date(BASE + i * 90_000).toISOString();

let runner: LocalRunner;
let auth: Record<string, string>;
/** Record id -> event time (ms) of everything accepted onto `feedback`. */
const sent = new Map<string, number>();
let soloId: string;
let keyedId: string;

interface Sent {
  data: Record<string, unknown>;
  key?: string;
}

function feedback(i: number, customerId = `c-${i % 7}`): Record<string, unknown> {
  return { customerId, content: `t${i}`, category: "other", isNegative: false, ts: tsOf(i) };
}

async function send(stream: string, records: Sent[]): Promise<string[]> {
  const res = await fetch(`${runner.url}/v1/streams/${stream}/records`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify({ records }),
  });
  const body = (await res.json()) as { results: { recordId: string; status: string }[] };
  assert.equal(res.status, 200, JSON.stringify(body));
  const ids = body.results.map((r) => r.recordId);
  if (stream === "feedback")
    for (const [i, r] of records.entries()) sent.set(ids[i]!, Date.parse(String(r.data.ts)));
  return ids;
}

interface Answer {
  status: number;
  headers: Headers;
  rows: Record<string, unknown>[];
  error?: { code: string; message: string; path?: string };
}

async function get(
  query: string,
  headers: Record<string, string> = auth,
  stream = "feedback",
): Promise<Answer> {
  const res = await fetch(`${runner.url}/v1/streams/${stream}/records?${query}`, { headers });
  const text = await res.text();
  if (res.status !== 200)
    return { status: res.status, headers: res.headers, rows: [], error: JSON.parse(text).error };
  assert.equal(res.headers.get("content-type"), "application/x-ndjson");
  const rows = text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: res.status, headers: res.headers, rows };
}

const counter = (a: Answer, name: string) => Number(a.headers.get(`sluice-${name}`));

/** Every page of a query, following cursors; `between` runs after each page. */
async function allPages(query: string, between?: () => Promise<void>): Promise<Answer[]> {
  const pages: Answer[] = [];
  let cursor: string | null = null;
  do {
    const page = await get(cursor ? `cursor=${encodeURIComponent(cursor)}&limit=7` : query);
    assert.equal(page.status, 200, JSON.stringify(page.error));
    pages.push(page);
    cursor = page.headers.get("sluice-next-cursor");
    if (between) await between();
  } while (cursor && pages.length < 100);
  return pages;
}

before(async () => {
  runner = await startTestRunner("query", { manifestPath: FIXTURE });
  auth = authHeader(runner);
  const records: Sent[] = Array.from({ length: 120 }, (_, i) => ({ data: feedback(i) }));
  // One customer seen once, sorting after every other: row-group statistics can rule it out.
  records[50] = { data: feedback(50, "solo-customer") };
  records[80] = { data: feedback(80), key: "order-80" };
  // Batches committed one after the other, so a partition gets more than one file.
  const ids = await send("feedback", records.slice(0, 60));
  await runner.drained();
  ids.push(...(await send("feedback", records.slice(60))));
  soloId = ids[50]!;
  keyedId = ids[80]!;
  await runner.drained();
});

after(async () => {
  await runner?.stop();
});

describe("time range", () => {
  test("the lake has several partitions and files for the range to cross", async () => {
    const keys = await listKeys(runner.clients.s3, runner.config.pipelines.lake!.sink.bucket, "feedback/");
    const hours = new Set(keys.map((k) => /hr=(\d\d)/.exec(k)?.[1]));
    assert.deepEqual([...hours].sort(), ["09", "10", "11"]);
    assert.ok(keys.length >= 4, `files: ${keys.join(", ")}`);
  });

  test("pages hold exactly the matching records, in order, while new ones are committed", async () => {
    const fromMs = Date.UTC(2026, 10, 23, 9, 30);
    const toMs = Date.UTC(2026, 10, 23, 11, 15);
    const expected = [...sent].filter(([, t]) => t >= fromMs && t < toMs).map(([id]) => id);
    assert.ok(expected.length > 60);
    let round = 0;
    const pages = await allPages(
      `from=${new Date(fromMs).toISOString()}&to=${new Date(toMs).toISOString()}&limit=7`,
      async () => {
        // New records inside the range arrive and are committed between pages.
        if (round++ < 3) {
          await send("feedback", [{ data: { ...feedback(40 + round), content: `late-${round}` } }]);
          await runner.drained();
        }
      },
    );
    const ids = pages.flatMap((p) => p.rows.map((r) => String(r._id)));
    assert.equal(new Set(ids).size, ids.length, "a record was repeated across pages");
    assert.deepEqual(
      [...ids].sort(),
      [...expected].sort(),
      "the pages are not exactly the range as of page 1",
    );
    assert.ok(pages.length >= 10);
    assert.ok(pages.slice(0, -1).every((p) => p.rows.length === 7));
    const times = pages.flatMap((p) => p.rows.map((r) => Date.parse(String(r._event_time))));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
    // A new query sees the late records too.
    const fresh = await allPages(
      `from=${new Date(fromMs).toISOString()}&to=${new Date(toMs).toISOString()}&limit=500`,
    );
    const late = fresh.flatMap((p) => p.rows).filter((r) => String(r.content).startsWith("late-"));
    assert.equal(late.length, 3);
  });

  test("fields returns only those columns; the row groups outside the range are not read", async () => {
    const page = await get(
      "from=2026-11-23T10:00:00Z&to=2026-11-23T10:30:00Z&fields=customerId,ts&limit=1000",
    );
    assert.equal(page.status, 200);
    const [from, to] = [Date.UTC(2026, 10, 23, 10), Date.UTC(2026, 10, 23, 10, 30)];
    assert.equal(page.rows.length, [...sent.values()].filter((t) => t >= from && t < to).length);
    for (const r of page.rows) assert.deepEqual(Object.keys(r).sort(), ["customerId", "ts"]);
    assert.ok(counter(page, "row-groups-read") < counter(page, "row-groups-total"));
    assert.equal(page.headers.get("sluice-next-cursor"), null);
  });
});

describe("key lookup", () => {
  async function scanRowGroups(): Promise<number> {
    const all = await get("from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&limit=10000");
    assert.ok(all.rows.length >= 120);
    return counter(all, "row-groups-read");
  }

  test("by partition key: the record, reading fewer row groups than a scan", async () => {
    const page = await get("key=solo-customer");
    assert.equal(page.status, 200);
    assert.deepEqual(
      page.rows.map((r) => r._id),
      [soloId],
    );
    assert.equal(page.rows[0]!.customerId, "solo-customer");
    assert.ok(counter(page, "row-groups-read") >= 1);
    assert.ok(counter(page, "row-groups-read") < (await scanRowGroups()));
  });

  test("by record id and by idempotency key", async () => {
    const byId = await get(`key=${soloId}`);
    assert.deepEqual(
      byId.rows.map((r) => r._id),
      [soloId],
    );
    assert.ok(counter(byId, "row-groups-read") < (await scanRowGroups()));
    const byKey = await get("key=order-80");
    assert.deepEqual(
      byKey.rows.map((r) => [r._id, r.content]),
      [[keyedId, "t80"]],
    );
  });

  test("a key nothing has answers an empty page", async () => {
    const page = await get("key=nobody-at-all");
    assert.equal(page.status, 200);
    assert.deepEqual(page.rows, []);
  });
});

test("Arrow IPC for Accept: application/vnd.apache.arrow.stream holds the same rows", async () => {
  const query = "from=2026-11-23T09:00:00Z&to=2026-11-23T09:30:00Z&limit=1000";
  const json = await get(query);
  const res = await fetch(`${runner.url}/v1/streams/feedback/records?${query}`, {
    headers: { ...auth, accept: "application/vnd.apache.arrow.stream" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.apache.arrow.stream");
  const table = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
  assert.equal(table.numRows, json.rows.length);
  assert.equal(table.numRows, 20);
  assert.deepEqual(
    table.getChild("_id")!.toArray(),
    json.rows.map((r) => r._id),
  );
  assert.deepEqual(
    table.getChild("customerId")!.toArray(),
    json.rows.map((r) => r.customerId),
  );
});

describe("bad requests", () => {
  test("a bad time names the parameter", async () => {
    const a = await get("from=yesterday-ish");
    assert.equal(a.status, 400);
    assert.equal(a.error!.code, "INVALID_QUERY");
    assert.equal(a.error!.path, "/from");
    const b = await get("from=2026-11-23T10:00:00Z&to=2026-11-23T09:00:00Z");
    assert.equal(b.error!.path, "/to");
    const c = await get("limit=10");
    assert.equal(c.error!.path, "/from");
  });

  test("a cursor that is not one, or belongs to another stream or query", async () => {
    const garbage = await get("cursor=not%20a%20cursor");
    assert.equal(garbage.status, 400);
    assert.equal(garbage.error!.code, "INVALID_CURSOR");
    const forged = await get(`cursor=${Buffer.from('{"v":1}').toString("base64url")}`);
    assert.equal(forged.error!.code, "INVALID_CURSOR");
    const first = await get("from=2026-11-23T09:00:00Z&to=2026-11-23T12:00:00Z&limit=2");
    const cursor = first.headers.get("sluice-next-cursor")!;
    assert.ok(cursor);
    const other = await get(`cursor=${cursor}`, auth, "sealed");
    assert.equal(other.error!.code, "INVALID_CURSOR");
    assert.match(other.error!.message, /belongs to stream "feedback"/);
    const changed = await get(`cursor=${cursor}&from=2026-11-23T10:00:00Z`);
    assert.equal(changed.error!.code, "INVALID_CURSOR");
  });

  test("an unknown stream, an unknown field, a limit out of range, a scan over its limit", async () => {
    const unknown = await get("from=1h", auth, "nope");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.error!.code, "UNKNOWN_STREAM");
    const field = await get("from=2026-11-23T09:00:00Z&fields=customerId,nosuch");
    assert.equal(field.status, 400);
    assert.equal(field.error!.path, "/fields");
    assert.match(field.error!.message, /nosuch/);
    for (const limit of ["0", "10001", "ten"]) {
      const a = await get(`from=1h&limit=${limit}`);
      assert.equal(a.status, 400);
      assert.equal(a.error!.path, "/limit");
    }
    const big = await get("from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&maxBytes=2000");
    assert.equal(big.status, 413);
    assert.equal(big.error!.code, "QUERY_TOO_LARGE");
    assert.match(big.error!.message, /2000 bytes/);
  });

  test("no credentials is 401; a reader key reads only its own streams", async () => {
    if (!runner.devKey) return assert.fail("the query fixture runs with API keys on");
    const none = await get("from=1h", {});
    assert.equal(none.status, 401);
    const store = new ApiKeyStore(runner.clients.dynamo, runner.config.tables.apiKeys);
    const { key } = await store.create({ name: "reader", role: "reader", streams: ["sealed"] });
    const reader = { authorization: `Bearer ${key}` };
    const denied = await get("from=2026-11-23T09:00:00Z", reader);
    assert.equal(denied.status, 403);
    assert.equal(denied.error!.code, "FORBIDDEN");
    const allowed = await get("from=2026-11-23T09:00:00Z", reader, "sealed");
    assert.equal(allowed.status, 200);
  });
});
