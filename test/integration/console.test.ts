/**
 * The local console in real headless Chromium (Debian's chromium through playwright-core), against
 * the local runner: signed in by the one-time link, it lists the stream and the keys, and records
 * sent through the API appear in the records/s chart (from the stats route) and in the live tail
 * (the SSE route), then their file. The screenshot is kept in test-results/console.png.
 * Waits are on DOM conditions, never on time.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const N = 6;

let runner: LocalRunner;
let browser: Browser;
let page: Page;
before(async () => {
  runner = await startTestRunner("console");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
});
after(async () => {
  await browser?.close();
  await runner?.stop();
});

async function send(count: number): Promise<string[]> {
  const records = Array.from({ length: count }, (_, i) => ({
    data: {
      customerId: `c-${i}`,
      content: `console ${i}`,
      category: "praise",
      isNegative: false,
      ts: new Date().toISOString(),
    },
  }));
  const res = await fetch(`${runner.url}/v1/streams/feedback/records`, {
    method: "POST",
    headers: { ...authHeader(runner), "content-type": "application/json" },
    body: JSON.stringify({ records }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { results: { recordId: string }[] }).results.map((r) => r.recordId);
}

describe("the console in headless Chromium", () => {
  test("signs in with the one-time link, which then works no more", async () => {
    const link = runner.consoleLink();
    const res = await page.goto(link);
    assert.equal(res?.status(), 200);
    assert.equal(new URL(page.url()).pathname, "/console/");
    await page.locator("#streams tbody tr", { hasText: "feedback" }).waitFor();
    // The link's token is spent, and the page never holds the dev key.
    const again = await fetch(link, { redirect: "manual" });
    assert.equal(again.status, 401);
    if (runner.devKey) assert.ok(!(await page.content()).includes(runner.devKey));
  });

  test("shows the stream's state and schema version, and the keys list", async () => {
    const row = page.locator("#streams tbody tr", { hasText: "feedback" });
    assert.match(await row.innerText(), /feedback\s+active\s+sluice\.feedback v1/);
    await page.locator("#keys tbody tr", { hasText: "dev" }).waitFor();
    assert.match(await page.locator("#keys tbody").innerText(), /key_[0-9a-f]{12}\s+dev\s+admin/);
  });

  test("records sent appear in the chart and the live tail, then as a file", async () => {
    await page.locator('#tail-state[data-live="true"]').waitFor({ timeout: 30_000 });
    const ids = await send(N);
    for (const id of ids) await page.locator(`#tail-list li[data-id="${id}"]`).waitFor({ timeout: 30_000 });
    // Polled from here, not with page.waitForFunction: the console's CSP (script-src 'self') forbids eval.
    const chartDeadline = Date.now() + 30_000;
    while (Number((await page.locator("#chart").getAttribute("data-accepted")) ?? 0) < N) {
      assert.ok(Date.now() < chartDeadline, "the chart never counted the records sent");
      await new Promise((r) => setTimeout(r, 200));
    }
    const bars = await page
      .locator("#chart rect")
      .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("data-accepted"))));
    assert.equal(bars.length, 15);
    assert.equal(
      bars.reduce((a, b) => a + b, 0),
      N,
    );
    assert.equal(await page.locator('#totals dd[data-figure="accepted"]').innerText(), String(N));

    await runner.drained(30_000);
    await page.locator("#files tbody tr", { hasText: ".parquet" }).first().waitFor({ timeout: 30_000 });
    mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/console.png", fullPage: true });
  });

  test("the API behind it is read-only and needs the session", async () => {
    const anonymous = await fetch(`${runner.url}/console/api/v1/keys`);
    assert.equal(anonymous.status, runner.devKey ? 401 : 200);
    const writes = await page.evaluate(async () => {
      const post = await fetch("/console/api/v1/keys", { method: "POST", body: "{}" });
      const other = await fetch("/console/api/v1/schemas");
      return [post.status, other.status];
    });
    assert.deepEqual(writes, [403, 403]);
    const wrongKey = await fetch(`${runner.url}/console/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "key=sk_not-the-key",
      redirect: "manual",
    });
    assert.equal(wrongKey.status, 401);
  });
});
