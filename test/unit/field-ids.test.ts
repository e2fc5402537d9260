/**
 * Parquet field ids: the per-subject assignment (stable, never reused, kept across a widening) and
 * the writer putting them on every schema element, read back by DuckDB and hyparquet.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parquetMetadata } from "hyparquet";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import { planColumns } from "../../functions/core/parquet/columns.ts";
import {
  assignFieldIds,
  columnNodes,
  FIRST_FIELD_ID,
  parquetFieldIds,
} from "../../functions/core/parquet/field-ids.ts";
import { encodeParquet } from "../../functions/core/parquet/index.ts";
import { duckdb } from "../support/env.ts";

const fields = (schema: JsonSchema) => planColumns(schema).fields;

const V1: JsonSchema = {
  type: "object",
  properties: {
    device: { type: "string" },
    value: { type: "integer" },
    tags: { type: "array", items: { type: "string" } },
    where: { type: "object", properties: { lat: { type: "number" }, "a/b~c": { type: "string" } } },
  },
};

describe("field id assignment", () => {
  test("every column node gets an id, in file order, from the first free one", () => {
    const { ids, state } = assignFieldIds(fields(V1));
    assert.deepEqual(ids, {
      "/properties/device": 6,
      "/properties/value": 7,
      "/properties/tags": 8,
      "/properties/tags/items": 9,
      "/properties/where": 10,
      "/properties/where/properties/lat": 11,
      "/properties/where/properties/a~1b~0c": 12,
    });
    assert.equal(state.next, 13);
    assert.equal(FIRST_FIELD_ID, 6);
  });

  test("a later version keeps ids by path, keeps an id across INT64 -> DOUBLE, and never reuses one", () => {
    const first = assignFieldIds(fields(V1));
    const v2: JsonSchema = {
      type: "object",
      properties: {
        // reordered, widened, retyped, one dropped, one new
        value: { type: "number" },
        device: { type: "integer" },
        where: { type: "object", properties: { lat: { type: "number" } } },
        region: { type: "string" },
      },
    };
    const second = assignFieldIds(fields(v2), first.state);
    assert.equal(second.ids["/properties/value"], 7, "widened: same id");
    assert.equal(second.ids["/properties/where"], 10);
    assert.equal(second.ids["/properties/where/properties/lat"], 11);
    assert.equal(second.ids["/properties/device"], 13, "string -> integer: a fresh id");
    assert.equal(second.ids["/properties/region"], 14);
    // v3 brings tags back as they were: the dropped path keeps its id; device goes back to a string
    // and gets yet another id, since 6 was handed to a column of another type.
    const third = assignFieldIds(fields(V1), second.state);
    assert.equal(third.ids["/properties/tags"], 8);
    assert.equal(third.ids["/properties/device"], 15);
    const all = [first, second, third].flatMap((r) => Object.values(r.ids));
    const byId = new Map<number, Set<string>>();
    for (const r of [first, second, third])
      for (const [path, id] of Object.entries(r.ids)) byId.set(id, (byId.get(id) ?? new Set()).add(path));
    for (const [id, paths] of byId) assert.equal(paths.size, 1, `id ${id} names one path: ${[...paths]}`);
    assert.ok(all.every((id) => id >= FIRST_FIELD_ID));
  });

  test("paths map onto Parquet's list and struct layout", () => {
    const { ids } = assignFieldIds(fields(V1));
    const byParquet = parquetFieldIds(ids);
    assert.equal(byParquet.get(JSON.stringify(["tags"])), 8);
    assert.equal(byParquet.get(JSON.stringify(["tags", "list", "element"])), 9);
    assert.equal(byParquet.get(JSON.stringify(["where", "a/b~c"])), 12);
    assert.equal(byParquet.get(JSON.stringify(["_id"])), 1);
    assert.equal(columnNodes(fields(V1)).length, Object.keys(ids).length);
  });
});

describe("the writer puts field ids on the schema", () => {
  test("DuckDB and hyparquet read the same ids back", async () => {
    const { ids } = assignFieldIds(fields(V1));
    const plan = planColumns(V1, ids);
    const data = { device: "d", value: 3, tags: ["a"], where: { lat: 1.5, "a/b~c": "x" } };
    const out = encodeParquet(
      plan,
      [
        {
          id: "01J",
          eventTime: "2026-01-01T00:00:00Z",
          receiveTime: "2026-01-01T00:00:00Z",
          schemaVersion: 1,
          data,
        },
      ],
      { compression: "zstd", rowGroupSize: 10, metadata: {} },
    );
    const dir = mkdtempSync(join(tmpdir(), "sluice-ids-"));
    const file = join(dir, "f.parquet");
    writeFileSync(file, out.bytes);
    const rows = await duckdb<{ name: string; field_id: number | null }>(
      `SELECT name, field_id FROM parquet_schema('${file}')`,
    );
    const expected = [
      ["schema", null],
      ["_id", 1],
      ["_event_time", 2],
      ["_receive_time", 3],
      ["_schema_version", 4],
      ["device", 6],
      ["value", 7],
      ["tags", 8],
      ["list", null],
      ["element", 9],
      ["where", 10],
      ["lat", 11],
      ["a/b~c", 12],
      ["_extra", 5],
    ];
    assert.deepEqual(
      rows.map((r) => [r.name, r.field_id === null ? null : Number(r.field_id)]),
      expected,
    );
    const meta = parquetMetadata(
      out.bytes.buffer.slice(
        out.bytes.byteOffset,
        out.bytes.byteOffset + out.bytes.byteLength,
      ) as ArrayBuffer,
    );
    assert.deepEqual(
      meta.schema.map((e) => [e.name, e.field_id ?? null]),
      expected,
    );
    // Values are unaffected by the ids.
    const values = await duckdb(`SELECT device, value, tags, "where".lat AS lat FROM '${file}'`);
    assert.deepEqual(values, [{ device: "d", value: "3", tags: ["a"], lat: 1.5 }]);
  });

  test("a plan without ids writes none", async () => {
    const out = encodeParquet(
      planColumns(V1),
      [
        {
          id: "01J",
          eventTime: "2026-01-01T00:00:00Z",
          receiveTime: "2026-01-01T00:00:00Z",
          schemaVersion: 1,
          data: { device: "d" },
        },
      ],
      { compression: "none", rowGroupSize: 10, metadata: {} },
    );
    const meta = parquetMetadata(
      out.bytes.buffer.slice(
        out.bytes.byteOffset,
        out.bytes.byteOffset + out.bytes.byteLength,
      ) as ArrayBuffer,
    );
    assert.ok(meta.schema.every((e) => e.field_id === undefined));
  });
});
