/**
 * The tail through the local runner's HTTP API (replaying the lake, then following Kinesis, over
 * the switch with no gap and no record twice, encrypted payloads opened) and the CLI's query, get
 * and tail against it. GET /records itself is query-records.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runReadCommand } from "../../bin/read-command.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
before(async () => {
  runner = await startTestRunner("qry", { manifestPath: "test/fixtures/manifests/query.yaml" });
});
after(async () => {
  await runner?.stop();
});

interface Sent {
  id: string;
  ts: string;
  customerId: string;
}

async function send(
  stream: string,
  records: { ts: string; customerId: string; key?: string; content?: string }[],
): Promise<Sent[]> {
  const res = await fetch(`${runner.url}/v1/streams/${stream}/records`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeader(runner) },
    body: JSON.stringify({
      records: records.map((r) => ({
        data: {
          customerId: r.customerId,
          content: r.content ?? "x",
          category: "other",
          isNegative: false,
          ts: r.ts,
        },
        ...(r.key ? { key: r.key } : {}),
      })),
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { results: { recordId: string }[] };
  return body.results.map((r, i) => ({
    id: r.recordId,
    ts: records[i]!.ts,
    customerId: records[i]!.customerId,
  }));
}

const at = (h: number, m: number) => new Date(Date.UTC(2026, 10, 23, h, m)).toISOString();

/** Reads server-sent events until `until` says stop; returns them in order. */
async function tail(
  stream: string,
  from: string,
  until: (events: { event: string; data: Record<string, unknown> }[]) => boolean,
  onLive?: () => Promise<void>,
) {
  const ac = new AbortController();
  const res = await fetch(`${runner.url}/v1/streams/${stream}/tail?from=${from}`, {
    headers: authHeader(runner),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  const deadline = setTimeout(() => ac.abort(), 60_000);
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end = buffered.indexOf("\n\n");
      while (end >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) {
          events.push({ event, data: JSON.parse(data) });
          if (event === "live" && onLive) await onLive();
        }
        end = buffered.indexOf("\n\n");
      }
    }
  } finally {
    clearTimeout(deadline);
    ac.abort();
  }
  return events;
}

describe("the tail", () => {
  test("from an hour ago it replays the lake, then follows, and every record sent around the switch appears once", async () => {
    const now = Date.now();
    const ago = (min: number) => new Date(now - min * 60_000).toISOString();
    const old = await send("feedback", [{ ts: ago(120), customerId: "too-old" }]);
    const replayed = await send(
      "feedback",
      Array.from({ length: 15 }, (_, i) => ({ ts: ago(50 - i), customerId: "replay" })),
    );
    await runner.drained();
    // Sent just before the tail opens: some may be committed to the lake, some still only on Kinesis.
    const switching = await send(
      "feedback",
      Array.from({ length: 10 }, (_, i) => ({ ts: ago(5 - i / 10), customerId: "switch" })),
    );
    let live: Sent[] = [];
    const expected = () => [...replayed, ...switching, ...live].map((s) => s.id);
    const events = await tail(
      "feedback",
      "1h",
      (ev) => live.length > 0 && expected().every((id) => ev.some((e) => e.data._id === id)),
      async () => {
        live = await send(
          "feedback",
          Array.from({ length: 5 }, () => ({ ts: new Date().toISOString(), customerId: "live" })),
        );
      },
    );
    const records = events.filter((e) => e.event === "record").map((e) => String(e.data._id));
    const liveAt = events.findIndex((e) => e.event === "live");
    assert.ok(liveAt >= 15, "the replay comes before the live marker");
    for (const r of replayed) assert.ok(records.slice(0, liveAt).includes(r.id), "replayed from the lake");
    assert.equal(new Set(records).size, records.length, "no record twice");
    assert.deepEqual(records.filter((id) => expected().includes(id)).sort(), expected().sort());
    assert.ok(!records.includes(old[0]!.id), "records before from are not replayed");
  });

  test("an encrypted stream's tail shows the payloads decrypted, from the lake and live", async () => {
    const before = await send("sealed", [
      { ts: new Date(Date.now() - 60_000).toISOString(), customerId: "s", content: "secret-before" },
    ]);
    await runner.drained();
    let live: Sent[] = [];
    const events = await tail(
      "sealed",
      "10m",
      (ev) => live.length > 0 && ev.some((e) => e.data._id === live[0]!.id),
      async () => {
        live = await send("sealed", [
          { ts: new Date().toISOString(), customerId: "s", content: "secret-live" },
        ]);
      },
    );
    const byId = new Map(events.filter((e) => e.event === "record").map((e) => [e.data._id, e.data]));
    assert.equal(byId.get(before[0]!.id)?.content, "secret-before");
    assert.equal(byId.get(live[0]!.id)?.content, "secret-live");
  });

  test("a tail without credentials or of an unknown stream is refused before it starts", async () => {
    const anonymous = await fetch(`${runner.url}/v1/streams/feedback/tail`);
    assert.equal(anonymous.status, 401);
    const unknown = await fetch(`${runner.url}/v1/streams/nope/tail`, { headers: authHeader(runner) });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "UNKNOWN_STREAM");
    const badFrom = await fetch(`${runner.url}/v1/streams/feedback/tail?from=soon`, {
      headers: authHeader(runner),
    });
    assert.equal(badFrom.status, 400);
  });
});

describe("sluice query, get and tail", () => {
  const cli = async (command: "query" | "get" | "tail", args: string[], signal?: AbortSignal) => {
    let out = "";
    let err = "";
    const code = await runReadCommand(command, [...args, "--url", runner.url, "--key", runner.devKey!], {
      out: (t) => {
        out += t;
      },
      err: (t) => {
        err += t;
      },
      ...(signal ? { signal } : {}),
    });
    return { code, out, err };
  };

  test("query pages through a range and prints CSV filtered by --where; get prints one record", async () => {
    const sent = await send(
      "feedback",
      Array.from({ length: 12 }, (_, i) => ({ ts: at(3, i), customerId: i % 2 ? "odd" : "even" })),
    );
    await runner.drained();
    const q = await cli("query", [
      "feedback",
      "--from",
      at(3, 0),
      "--to",
      at(4, 0),
      "--where",
      "customerId=odd",
      "--fields",
      "_id,customerId",
      "--format",
      "csv",
    ]);
    assert.equal(q.code, 0, q.err);
    const lines = q.out.trim().split("\n");
    assert.equal(lines[0], "_id,customerId");
    assert.deepEqual(
      lines
        .slice(1)
        .map((l) => l.split(",")[0])
        .sort(),
      sent
        .filter((s) => s.customerId === "odd")
        .map((s) => s.id)
        .sort(),
    );
    const g = await cli("get", ["feedback", sent[3]!.id, "--format", "ndjson"]);
    assert.equal(g.code, 0, g.err);
    assert.equal((JSON.parse(g.out) as { _id: string })._id, sent[3]!.id);
    const table = await cli("query", ["feedback", "--from", at(3, 0), "--to", at(3, 2)]);
    assert.match(table.out.split("\n")[0]!, /^_id\s+_event_time/);
    assert.equal(table.out.trim().split("\n").length, 3, "a header and two rows");
  });

  test("tail prints records as JSON lines and marks the switch to live", async () => {
    const sent = await send("feedback", [
      { ts: new Date(Date.now() - 120_000).toISOString(), customerId: "cli-tail" },
    ]);
    await runner.drained();
    const ac = new AbortController();
    const done = cli("tail", ["feedback", "--from", "5m"], ac.signal);
    const started = Date.now();
    // The tail runs until interrupted; stop it once the replay has had time to arrive.
    await new Promise((r) => setTimeout(r, 2000));
    ac.abort();
    const t = await done;
    assert.equal(t.code, 0, t.err);
    assert.ok(Date.now() - started < 30_000);
    assert.ok(t.out.split("\n").some((l) => l.includes(sent[0]!.id)));
    assert.match(t.err, /-- live --/);
  });

  test("usage errors exit 2, refusals exit 1 with the API's code", async () => {
    assert.equal((await cli("query", ["feedback"])).code, 2, "query needs --from");
    assert.equal((await cli("get", ["feedback"])).code, 2);
    assert.equal((await cli("query", ["feedback", "--from", "1h", "--format", "xml"])).code, 2);
    assert.equal((await cli("query", ["feedback", "--from", "1h", "--where", "nonsense"])).code, 2);
    const refused = await cli("query", ["nope", "--from", "1h"]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /404 UNKNOWN_STREAM/);
    const missing = await cli("get", ["feedback", "no-such-key"]);
    assert.equal(missing.code, 1);
  });
});
