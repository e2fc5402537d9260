/**
 * The stream lifecycle through the API and `sluice streams`: a paused stream answers 409
 * STREAM_PAUSED and loses nothing it accepted before (counted in the lake with DuckDB); resume
 * takes records again; delete is final; bad transitions are 409 naming the state; only admins
 * may change a stream.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runStreamsCommand } from "../../bin/streams-command.ts";
import { createAuth } from "../../functions/core/auth/index.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { assertExactlyOnce, countLake, feedback, marked, send } from "../faults/lake.ts";
import { authHeader } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
before(async () => {
  runner = await startTestRunner("life");
});
after(async () => {
  await runner?.stop();
});

async function cli(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await runStreamsCommand([...argv, "--url", runner.url, "--key", runner.devKey ?? ""], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

async function post(stream: string, body: unknown, headers = authHeader(runner)) {
  const res = await fetch(`${runner.url}/v1/streams/${stream}/records`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

async function change(method: string, path: string, headers = authHeader(runner)) {
  const res = await fetch(`${runner.url}${path}`, { method, headers });
  const body = (await res.json()) as { state?: string; error: { code: string; message: string } };
  return { status: res.status, body };
}

describe("stream lifecycle", () => {
  test("pause refuses new records with 409 STREAM_PAUSED and delivers every record accepted before", async () => {
    const before = marked("pre", 6);
    const sent = await send(runner, before);
    assert.equal(sent.accepted.size, 6);

    const paused = await cli("pause", "feedback");
    assert.equal(paused.code, 0, paused.err);
    assert.match(paused.out, /^feedback\s+paused\s+sluice\.feedback@1\s+since /);

    const refused = await post("feedback", feedback("while-paused"));
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error?.code, "STREAM_PAUSED");

    const again = await change("POST", "/v1/streams/feedback/pause");
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "INVALID_STREAM_STATE");
    assert.match(again.body.error.message, /is paused: pause needs it active/);

    const list = await cli("list");
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^STREAM\s+STATE\s+SCHEMA\nfeedback\s+paused\s+sluice\.feedback@1/);

    // The batchers keep draining while intake is stopped.
    await runner.drained();
    const lake = await countLake(runner, runner.config.pipelines["feedback-lake"]!.sink.bucket);
    assertExactlyOnce(lake, sent.accepted.keys());
    assert.equal(lake.data.get("while-paused"), undefined);

    const resumed = await cli("resume", "feedback");
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.out, /^feedback\s+active/);
    const ok = await post("feedback", feedback("after-resume"));
    assert.equal(ok.status, 200);
    const shown = await change("GET", "/v1/streams/feedback");
    assert.equal(shown.body.state, "active");
  });

  test("only admins change streams; an unknown stream is 404", async () => {
    const auth = createAuth(runner.config.auth, {
      dynamo: runner.clients.dynamo,
      apiKeysTable: runner.config.tables.apiKeys,
    });
    const writer = await auth.apiKeys!.create({ name: "w", role: "writer", streams: ["feedback"] });
    const forbidden = await change("POST", "/v1/streams/feedback/pause", {
      authorization: `Bearer ${writer.key}`,
    });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.error.code, "FORBIDDEN");
    const listing = await change("GET", "/v1/streams", { authorization: `Bearer ${writer.key}` });
    assert.equal(listing.status, 403);
    const unknown = await cli("pause", "nope");
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /refused \(404 UNKNOWN_STREAM\): stream nope does not exist/);
    const usage = await cli("pause");
    assert.equal(usage.code, 2);
  });

  test("delete is final: records are refused, and pausing or resuming a deleted stream is 409 with its state", async () => {
    const deleted = await cli("delete", "feedback");
    assert.equal(deleted.code, 0, deleted.err);
    assert.match(deleted.out, /^feedback\s+deleted/);
    const refused = await post("feedback", feedback("after-delete"));
    assert.equal(refused.status, 404);
    assert.equal(refused.body.error?.code, "UNKNOWN_STREAM");
    assert.match(refused.body.error?.message ?? "", /was deleted/);
    for (const verb of ["pause", "resume"]) {
      const r = await change("POST", `/v1/streams/feedback/${verb}`);
      assert.equal(r.status, 409);
      assert.equal(r.body.error.code, "INVALID_STREAM_STATE");
      assert.match(r.body.error.message, /^stream feedback is deleted: /);
    }
    const twice = await cli("delete", "feedback");
    assert.equal(twice.code, 1);
    assert.match(twice.err, /409 INVALID_STREAM_STATE\): stream feedback is deleted/);
    const list = await cli("list");
    assert.match(list.out, /feedback\s+deleted/);
  });
});
