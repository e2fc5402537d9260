/**
 * A schema pattern never stalls ingest: one that backtracks catastrophically is refused at
 * registration (pattern-safety.ts), so the record that would have taken hours is answered at once,
 * and so is the health check beside it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

/** A stall test, not a speed target: a backtracking engine would take hours on the record. */
const PROMPT_MS = 5_000;

let runner: LocalRunner;

before(async () => {
  runner = await startTestRunner("regex", { pipelines: false, schemaTtlMs: 0 });
});

after(async () => {
  await runner?.stop();
});

async function timed(method: string, path: string, body?: unknown) {
  const started = Date.now();
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...authHeader(runner) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    ms: Date.now() - started,
  };
}

const latestFeedback = async () =>
  (await timed("GET", "/v1/schemas/sluice.feedback/versions/latest")).body as {
    version: number;
    schema: { properties: Record<string, unknown> };
  };

test("a pattern that backtracks catastrophically is refused at registration, at its pointer, with the reason", async () => {
  const current = await latestFeedback();
  const schema = {
    ...current.schema,
    properties: { ...current.schema.properties, name: { type: "string", pattern: "^(a+)+$" } },
  };
  const refused = await timed("POST", "/v1/schemas", { name: "feedback", namespace: "sluice", schema });
  const error = refused.body.error as { code: string; path: string; message: string; details: unknown[] };
  assert.deepEqual(
    [refused.status, error.code, error.path],
    [400, "INVALID_SCHEMA", "/schema/properties/name/pattern"],
  );
  assert.match(error.message, /can backtrack catastrophically \(exponential time/);
  assert.deepEqual(error.details, [{ path: error.path, message: error.message }]);
  assert.ok(refused.ms < PROMPT_MS, `registration answered in ${refused.ms} ms`);
  assert.equal((await latestFeedback()).version, current.version, "no version was registered");
});

test("the record that pattern would stall, and a health check beside it, are both answered promptly", async () => {
  const [record, health] = await Promise.all([
    timed("POST", "/v1/streams/feedback/records", { name: `${"a".repeat(40)}!` }),
    timed("GET", "/v1/health"),
  ]);
  assert.equal(record.status, 400);
  const result = (record.body.results as { error: { code: string } }[])[0]!;
  assert.equal(result.error.code, "SCHEMA_VIOLATION");
  assert.equal(health.status, 200);
  assert.ok(record.ms < PROMPT_MS, `record answered in ${record.ms} ms`);
  assert.ok(health.ms < PROMPT_MS, `health answered in ${health.ms} ms`);
});
