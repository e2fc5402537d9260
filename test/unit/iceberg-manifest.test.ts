import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  derivePartition,
  partitionFields,
  partitionTerms,
  partitionValues,
} from "../../functions/core/iceberg/partition-spec.ts";
import { loadManifest, ManifestError, type ManifestIssue } from "../../functions/core/manifest/index.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const scratch = mkdtempSync(join(tmpdir(), "sluice-iceberg-manifest-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

let written = 0;
function write(sink: readonly string[]): string {
  const dir = join(scratch, String(written++));
  cpSync(join(root, "test/fixtures/manifests/schemas"), join(dir, "schemas"), { recursive: true });
  const lines = [
    "version: 1",
    "name: demo",
    "schemas:",
    "  - name: feedback",
    "    file: schemas/feedback.json",
    "streams:",
    "  - name: feedback",
    "    schema: feedback",
    "pipelines:",
    "  - name: lake",
    "    sources: [feedback]",
    "    sink: lake",
    "sinks:",
    "  - name: lake",
    ...sink,
  ];
  const path = join(dir, "sluice.yaml");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

function load(sink: readonly string[]) {
  const warnings: ManifestIssue[] = [];
  const manifest = loadManifest(write(sink), { onWarning: (w) => warnings.push(w) });
  return { manifest, warnings };
}

function issues(sink: readonly string[]): ManifestIssue[] {
  try {
    loadManifest(write(sink), { onWarning: () => {} });
  } catch (error) {
    assert.ok(error instanceof ManifestError, String(error));
    return [...error.issues];
  }
  assert.fail("the manifest loaded, but it should not have");
}

const hourly = '    prefix: "{stream}/dt={yyyy}-{MM}-{dd}/hr={HH}/"';

describe("manifest: iceberg sinks", () => {
  test("an iceberg sink keeps its partition spec and sort order", () => {
    const { manifest, warnings } = load([
      "    type: iceberg",
      hourly,
      '    partition: ["hour(ts)"]',
      '    sortOrder: ["customerId", "score desc"]',
    ]);
    const sink = manifest.sinks[0]!;
    assert.equal(sink.type, "iceberg");
    assert.deepEqual(sink.partition, ["hour(ts)"]);
    assert.deepEqual(sink.sortOrder, ["customerId", "score desc"]);
    assert.deepEqual(warnings, []);
  });

  test("a partition term the prefix does not split by is refused at its line", () => {
    const found = issues([
      "    type: iceberg",
      '    prefix: "{stream}/dt={yyyy}-{MM}-{dd}/"',
      '    partition: ["hour(ts)"]',
    ]);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.path, "sinks[0].partition[0]");
    assert.equal(found[0]!.line, 17);
    assert.match(found[0]!.message, /hour\(ts\) needs .*\{HH\}/);
  });

  test("identity partitions need the field in the prefix", () => {
    const found = issues(["    type: iceberg", hourly, '    partition: ["day(ts)", "identity(category)"]']);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.path, "sinks[0].partition[1]");
    assert.match(found[0]!.message, /\{field:category\}/);
  });

  test("an unknown transform is refused by the schema's pattern", () => {
    const found = issues(["    type: iceberg", hourly, '    partition: ["month(ts)"]']);
    assert.equal(found[0]!.path, "sinks[0].partition[0]");
    assert.match(found[0]!.message, /hour\(ts\), day\(ts\) or identity\(FIELD\)/);
  });

  test("a sort field no schema declares is refused", () => {
    const found = issues(["    type: iceberg", hourly, '    sortOrder: ["nosuch desc"]']);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.code, "UNDECLARED_FIELD");
    assert.equal(found[0]!.path, "sinks[0].sortOrder[0]");
  });

  test("partition and sortOrder on a parquet sink are reported as ignored", () => {
    const { warnings } = load([
      "    type: parquet",
      hourly,
      '    partition: ["hour(ts)"]',
      '    sortOrder: ["score"]',
    ]);
    assert.deepEqual(
      warnings.map((w) => [w.code, w.path]),
      [
        ["IGNORED_SETTING", "sinks[0].partition"],
        ["IGNORED_SETTING", "sinks[0].sortOrder"],
      ],
    );
  });
});

describe("iceberg partition spec", () => {
  test("derived from the prefix: the finest time unit, then the field placeholders", () => {
    assert.deepEqual(derivePartition("{stream}/dt={yyyy}-{MM}-{dd}/hr={HH}/"), ["hour(ts)"]);
    assert.deepEqual(derivePartition("{stream}/{field:region}/dt={yyyy}-{MM}-{dd}/"), [
      "day(ts)",
      "identity(region)",
    ]);
    assert.deepEqual(derivePartition("{stream}/"), []);
  });

  test("values: hours and days since the epoch, identity by path, null when absent", () => {
    const terms = partitionTerms({ prefix: "", partition: ["hour(ts)", "day(ts)", "identity(a.b)"] });
    const ts = Date.parse("2026-12-07T05:30:00Z");
    assert.deepEqual(partitionValues(terms, { eventTimeMs: ts, data: { a: { b: "x" } } }), {
      _event_time_hour: Math.floor(ts / 3_600_000),
      _event_time_day: Math.floor(ts / 86_400_000),
      a_b: "x",
    });
    assert.equal(partitionValues(terms, { eventTimeMs: ts, data: {} }).a_b, null);
  });

  test("fields get ids from 1000 and the event-time column as source of time transforms", () => {
    const fields = partitionFields(
      partitionTerms({ prefix: "", partition: ["day(ts)", "identity(region)"] }),
      (p) => (p === "region" ? 7 : undefined),
    );
    assert.deepEqual(
      fields.map((f) => [f["field-id"], f.transform, f["source-id"] > 0]),
      [
        [1000, "day", true],
        [1001, "identity", true],
      ],
    );
    assert.throws(
      () => partitionFields(partitionTerms({ prefix: "", partition: ["identity(nosuch)"] }), () => undefined),
      /nosuch is not a column/,
    );
  });
});
