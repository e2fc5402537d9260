/**
 * `sluice schema` against a running ingest API: register, check, list, show, config, with the
 * incompatibilities one per line and the exit codes a script can branch on. One run goes through
 * the real `sluice` entry point as a child process; the rest call the command in-process.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runSchemaCommand } from "../../bin/schema-command.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
before(async () => {
  runner = await startTestRunner("cli", { pipelines: false, schemaTtlMs: 0 });
});
after(async () => {
  await runner?.stop();
});

const dir = mkdtempSync(join(tmpdir(), "sluice-schema-cli-"));
function file(name: string, schema: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(schema));
  return path;
}

async function run(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await runSchemaCommand([...argv, "--url", runner.url, "--key", runner.devKey ?? ""], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

const V1 = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string" }, n: { type: "integer" } },
};
const V2 = { ...V1, properties: { ...V1.properties, n: { type: "number" }, note: { type: "string" } } };
const V3 = { ...V2, required: ["id", "site"], properties: { ...V2.properties, id: { type: "integer" } } };

describe("sluice schema", () => {
  test("register, then the same again, then a compatible v2", async () => {
    const first = await run("register", "cli.things", file("v1.json", V1));
    assert.equal(first.code, 0, first.err);
    assert.equal(first.out, "cli.things version 1 registered (BACKWARD)\n");
    const again = await run("register", "cli.things", file("v1.json", V1));
    assert.equal(again.out, "cli.things version 1 already registered (BACKWARD)\n");
    const check = await run("check", "cli.things", file("v2.json", V2));
    assert.deepEqual([check.code, check.out], [0, "compatible (BACKWARD; registered: 1)\n"]);
    const second = await run("register", "cli.things", file("v2.json", V2));
    assert.equal(second.out, "cli.things version 2 registered (BACKWARD)\n");
  });

  test("an incompatible version: check exits 1 and prints each incompatibility on its own line", async () => {
    const check = await run("check", "cli.things", file("v3.json", V3));
    assert.equal(check.code, 1);
    const lines = check.out.trimEnd().split("\n");
    assert.equal(lines[0], "incompatible (BACKWARD; registered: 1, 2): 2");
    assert.ok(lines.includes("  v2 backward  /properties/id: type string -> integer"), check.out);
    assert.ok(
      lines.some((l) => l.startsWith("  v2 backward  /required/1: ") && l.includes('"site"')),
      check.out,
    );
    const register = await run("register", "cli.things", file("v3.json", V3));
    assert.equal(register.code, 1);
    assert.match(register.err, /^refused \(409 SCHEMA_INCOMPATIBLE\)/);
    assert.ok(register.err.includes("  v2 backward  /properties/id: type string -> integer"), register.err);
  });

  test("config reads and sets the mode; list and show read the registry", async () => {
    assert.equal((await run("config", "cli.things")).out, "cli.things: BACKWARD\n");
    assert.equal((await run("config", "cli.things", "FULL")).out, "cli.things: FULL\n");
    const wrong = await run("config", "cli.things", "SIDEWAYS");
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /400 INVALID_REQUEST.*compatibility must be one of/);
    const list = await run("list");
    assert.match(list.out, /^SUBJECT\s+LATEST\s+VERSIONS\n/);
    assert.match(list.out, /\ncli\.things\s+2\s+2\n/);
    const show = await run("show", "cli.things", "1");
    assert.equal(show.out.split("\n")[0]!.startsWith("# cli.things version 1 ("), true);
    assert.deepEqual(JSON.parse(show.out.slice(show.out.indexOf("\n") + 1)), V1);
    const missing = await run("show", "cli.things", "9");
    assert.deepEqual([missing.code, /404 NOT_FOUND/.test(missing.err)], [1, true]);
  });

  test("usage errors exit 2; the real entry point runs the same command", async () => {
    assert.equal((await run("register")).code, 2);
    assert.equal((await run("frobnicate")).code, 2);
    const child = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          "--import",
          "tsx",
          "bin/sluice.ts",
          "schema",
          "config",
          "cli.things",
          "--url",
          runner.url,
          "--key",
          runner.devKey ?? "",
        ],
        { timeout: 60_000 },
        (err, out) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out }),
      );
    });
    assert.deepEqual(child, { code: 0, out: "cli.things: FULL\n" });
  });
});
