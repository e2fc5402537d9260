/** The readiness cache with an injected clock: one probe per window, shared by concurrent callers. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Readiness, ReadinessCache } from "../../functions/core/health.ts";

function counting(status: Readiness["status"] = "ok") {
  let calls = 0;
  const check = { ok: status === "ok", latencyMs: 1 };
  const probe = async (): Promise<Readiness> => {
    calls += 1;
    return { status, checkedAt: `probe-${calls}`, checks: { kinesis: check, dynamodb: check, kms: check } };
  };
  return { probe, calls: () => calls };
}

test("calls within the TTL reuse one probe; the first call after it probes again", async () => {
  let now = 1_000;
  const p = counting();
  const cache = new ReadinessCache(p.probe, 5_000, () => now);
  assert.equal((await cache.get()).checkedAt, "probe-1");
  now += 4_999;
  assert.equal((await cache.get()).checkedAt, "probe-1");
  assert.equal(p.calls(), 1);
  now += 1;
  assert.equal((await cache.get()).checkedAt, "probe-2");
  assert.equal(p.calls(), 2);
});

test("a burst of concurrent callers before the first answer costs one probe", async () => {
  const p = counting();
  const cache = new ReadinessCache(p.probe, 5_000, () => 0);
  const answers = await Promise.all(Array.from({ length: 50 }, () => cache.get()));
  assert.equal(p.calls(), 1);
  assert.deepEqual(new Set(answers.map((a) => a.checkedAt)), new Set(["probe-1"]));
});

test("a degraded answer is cached like a healthy one, so an outage does not multiply probes", async () => {
  let now = 0;
  const p = counting("degraded");
  const cache = new ReadinessCache(p.probe, 2_000, () => now);
  await cache.get();
  now = 1_500;
  assert.equal((await cache.get()).status, "degraded");
  assert.equal(p.calls(), 1);
});

test("a probe that throws is not cached: the next caller probes again", async () => {
  let calls = 0;
  const cache = new ReadinessCache(
    async () => {
      calls += 1;
      if (calls === 1) throw new Error("boom");
      return counting().probe();
    },
    5_000,
    () => 0,
  );
  await assert.rejects(cache.get(), /boom/);
  assert.equal((await cache.get()).status, "ok");
  assert.equal(calls, 2);
});

test("a TTL of 0 probes on every call", async () => {
  const p = counting();
  const cache = new ReadinessCache(p.probe, 0, () => 0);
  await cache.get();
  await cache.get();
  assert.equal(p.calls(), 2);
});
