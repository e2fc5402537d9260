/**
 * Schema evolution end to end, through the public surfaces: a subject goes v1 -> v2 (an optional
 * field added, an integer widened to number) -> v3 refused, live; records of v1 and v2 land in
 * files DuckDB reads together by name with every value right; field ids stay with their columns;
 * the Glue table follows the registered columns.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GetTableCommand } from "@aws-sdk/client-glue";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, download, duckdb, glueUnavailable, listKeys, waitFor } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const V2 = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "readings.v2",
  type: "object",
  required: ["device", "value", "ts"],
  properties: {
    device: { type: "string" },
    value: { type: "number" },
    tags: { type: "array", items: { type: "string" } },
    region: { type: "string" },
    ts: { type: "string", format: "date-time" },
  },
};

const V3 = {
  ...V2,
  title: "readings.v3",
  required: ["device", "value", "ts", "site"],
  properties: { ...V2.properties, device: { type: "integer" }, site: { type: "string" } },
};

const noGlue = await glueUnavailable();
let runner: LocalRunner;
before(async () => {
  runner = await startTestRunner("evo", {
    manifestPath: "test/fixtures/manifests/evolution.yaml",
    schemaTtlMs: 0,
  });
});
after(async () => {
  await runner?.stop();
});

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...authHeader(runner), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields it asserts on
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const register = (schema: unknown, extra: Record<string, unknown> = {}) =>
  api("POST", "/v1/schemas", { name: "readings", namespace: "sluice", schema, ...extra });

async function glueColumns(): Promise<Record<string, string>> {
  const out = await runner.glue.send(
    new GetTableCommand({ DatabaseName: runner.config.catalog.database, Name: "lake" }),
  );
  return Object.fromEntries((out.Table?.StorageDescriptor?.Columns ?? []).map((c) => [c.Name, c.Type]));
}

describe("schema evolution (v1 -> v2 -> v3 refused)", () => {
  test("the catalog table starts on v1's columns", { skip: noGlue }, async () => {
    const cols = await glueColumns();
    assert.equal(cols.value, "bigint");
    assert.equal(cols.region, undefined);
    assert.equal(cols._schema_version, "int");
  });

  test("a candidate is checked without registering it", async () => {
    const ok = await api("POST", "/v1/schemas/sluice.readings/compatibility", { schema: V2 });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.mode, "BACKWARD");
    assert.equal(ok.body.compatible, true);
    assert.deepEqual(ok.body.checkedAgainst, [1]);
    // FULL would refuse the widening: v1 readers cannot read 1.5.
    const full = await api("POST", "/v1/schemas/sluice.readings/compatibility", {
      schema: V2,
      compatibility: "FULL",
    });
    assert.equal(full.body.compatible, false);
    assert.ok(
      full.body.incompatibilities.some(
        (i: { pointer: string; direction: string }) =>
          i.pointer === "/properties/value" && i.direction === "forward",
      ),
      JSON.stringify(full.body.incompatibilities),
    );
    const versions = await api("GET", "/v1/schemas/sluice.readings/versions");
    assert.equal(versions.body.versions.length, 1, "checking registered nothing");
  });

  test("v2 registers under BACKWARD and the Glue table gains its columns", async () => {
    const r = await register(V2);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.version, 2);
    assert.equal(r.body.compatibility, "BACKWARD");
    if (noGlue) return; // the version is registered; the catalog part needs Glue
    assert.deepEqual(
      r.body.catalog.map((c: { table: string; status: string }) => [c.table, c.status]),
      [["lake", "updated"]],
    );
    const cols = await glueColumns();
    assert.equal(cols.value, "double");
    assert.equal(cols.region, "string");
    // The same schema again is the same version, and the table is already right.
    const again = await register(V2);
    assert.equal(again.status, 200);
    assert.equal(again.body.version, 2);
    assert.equal(again.body.catalog[0].status, "unchanged");
  });

  test("v3 is refused with every incompatibility and its pointer", async () => {
    const r = await register(V3);
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, "SCHEMA_INCOMPATIBLE");
    const found = (r.body.error.incompatibilities as { pointer: string; reason: string }[]).map(
      (i) => `${i.pointer}: ${i.reason}`,
    );
    assert.ok(
      found.some((f) => f.startsWith("/properties/device: ") && f.includes("string -> integer")),
      found.join("\n"),
    );
    assert.ok(
      found.some((f) => f.startsWith("/required/3: ") && f.includes('"site"')),
      found.join("\n"),
    );
    const latest = await api("GET", "/v1/schemas/sluice.readings/versions/latest");
    assert.equal(latest.body.version, 2);
  });

  test("field ids: kept by a column across versions, fresh for a new one", async () => {
    const v1 = await api("GET", "/v1/schemas/sluice.readings/versions/1");
    const v2 = await api("GET", "/v1/schemas/sluice.readings/versions/2");
    const ids1 = v1.body.fieldIds as Record<string, number>;
    const ids2 = v2.body.fieldIds as Record<string, number>;
    assert.equal(ids2["/properties/value"], ids1["/properties/value"], "a widened column keeps its id");
    assert.equal(ids2["/properties/tags/items"], ids1["/properties/tags/items"]);
    const used = new Set(Object.values(ids1));
    assert.ok(!used.has(ids2["/properties/region"]!), "a new column never takes an old id");
  });

  test("records of v1 and v2 land in files DuckDB reads together, typed and with every value", async () => {
    const ts = "2026-03-01T10:00:00Z";
    const v1Records = [
      { device: "d1", value: 7, ts },
      { device: "d2", value: 42, ts },
    ];
    const v2Records = [
      { device: "d3", value: 1.5, region: "eu", ts },
      { device: "d4", value: 2, tags: ["x"], ts },
    ];
    const old = await api(
      "POST",
      "/v1/streams/readings/records",
      { records: v1Records.map((data) => ({ data })) },
      {
        "sluice-schema-version": "1",
      },
    );
    assert.equal(old.status, 200, JSON.stringify(old.body));
    const latest = await api("POST", "/v1/streams/readings/records", {
      records: v2Records.map((data) => ({ data })),
    });
    assert.equal(latest.status, 200, JSON.stringify(latest.body));

    const bucket = runner.config.pipelines.lake!.sink.bucket;
    const keys = await waitFor("two data files", async () => {
      const k = (await listKeys(runner.clients.s3, bucket)).filter((x) => x.endsWith(".parquet"));
      return k.length >= 2 ? k : undefined;
    });
    assert.equal(keys.length, 2, "one file per schema version");
    const dir = await download(runner.clients.s3, bucket, keys);
    const rows = await duckdb<{ device: string; value: number; region: string | null; v: number }>(
      `SELECT device, value, region, _schema_version AS v FROM read_parquet('${dir}/*.parquet', union_by_name = true) ORDER BY device`,
    );
    assert.deepEqual(rows, [
      { device: "d1", value: 7, region: null, v: 1 },
      { device: "d2", value: 42, region: null, v: 1 },
      { device: "d3", value: 1.5, region: "eu", v: 2 },
      { device: "d4", value: 2, region: null, v: 2 },
    ]);
    const types = await duckdb<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM read_parquet('${dir}/*.parquet', union_by_name = true)`,
    );
    assert.equal(types.find((t) => t.column_name === "value")?.column_type, "DOUBLE");

    // Each file carries its version and its columns' ids.
    const meta = await duckdb<{ file: string; key: string; value: string }>(
      `SELECT file_name AS file, decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata('${dir}/*.parquet') WHERE decode(key) = 'sluice.schema.version'`,
    );
    assert.deepEqual(meta.map((m) => m.value).sort(), ["1", "2"]);
    const ids = await duckdb<{ file: string; name: string; field_id: number | null }>(
      `SELECT file_name AS file, name, field_id FROM parquet_schema('${dir}/*.parquet') WHERE name IN ('value', 'region', '_id', 'element')`,
    );
    const v2Ids = (await api("GET", "/v1/schemas/sluice.readings/versions/2")).body.fieldIds;
    const valueIds = new Set(ids.filter((i) => i.name === "value").map((i) => Number(i.field_id)));
    assert.deepEqual([...valueIds], [v2Ids["/properties/value"]]);
    assert.deepEqual(
      [...new Set(ids.filter((i) => i.name === "_id").map((i) => Number(i.field_id)))],
      [1],
      "envelope columns have the same id in every file",
    );
    assert.deepEqual(
      ids.filter((i) => i.name === "region").map((i) => Number(i.field_id)),
      [v2Ids["/properties/region"]],
    );
  });

  test("the mode is per subject: PUT config, then GET it back", async () => {
    const bad = await api("PUT", "/v1/schemas/sluice.readings/config", { compatibility: "SIDEWAYS" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.path, "/compatibility");
    const set = await api("PUT", "/v1/schemas/sluice.readings/config", { compatibility: "NONE" });
    assert.equal(set.status, 200);
    assert.equal((await api("GET", "/v1/schemas/sluice.readings/config")).body.compatibility, "NONE");
    // Under NONE even v3 registers.
    const r = await register(V3);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.version, 3);
  });

  test("concurrent registrations each get their own version and their own field ids", async () => {
    const base = { type: "object", properties: { id: { type: "string" } } };
    const first = await api("POST", "/v1/schemas", { name: "race", namespace: "sluice", schema: base });
    assert.equal(first.status, 201);
    const answers = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        api("POST", "/v1/schemas", {
          name: "race",
          namespace: "sluice",
          schema: { type: "object", properties: { ...base.properties, [`f${i}`]: { type: "integer" } } },
        }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      [201, 201, 201, 201, 201],
      JSON.stringify(answers.map((a) => a.body)),
    );
    assert.deepEqual(answers.map((a) => a.body.version).sort(), [2, 3, 4, 5, 6]);
    const owner = new Map<number, string>();
    for (const a of [first, ...answers]) {
      for (const [path, id] of Object.entries(a.body.fieldIds as Record<string, number>)) {
        assert.ok(!owner.has(id) || owner.get(id) === path, `id ${id} given to ${owner.get(id)} and ${path}`);
        owner.set(id, path);
      }
    }
    assert.equal(owner.size, 6, "id plus five new fields, one id each");
  });
});
