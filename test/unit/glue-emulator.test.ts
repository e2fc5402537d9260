/** The Glue emulator's catalog file: what one emulator wrote, the next one reads back whole. */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { GlueEmulator, GlueError } from "../../localstack/glue/emulator.ts";

const dir = mkdtempSync(join(tmpdir(), "sluice-glue-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const COLUMNS = [{ Name: "id", Type: "string" }];

function tableInput(columns: readonly { Name: string; Type: string }[]) {
  return {
    Name: "events",
    TableType: "EXTERNAL_TABLE",
    PartitionKeys: [{ Name: "dt", Type: "string" }],
    StorageDescriptor: { Columns: columns, Location: "s3://lake/events/" },
  };
}

test("a new emulator on the same catalog file sees every database, table version and partition", () => {
  const catalogFile = join(dir, "persist", "glue", "catalog.json");
  const first = new GlueEmulator({ catalogFile });
  first.handle("CreateDatabase", { DatabaseInput: { Name: "lake", Parameters: { owner: "sluice" } } });
  first.handle("CreateTable", { DatabaseName: "lake", TableInput: tableInput(COLUMNS) });
  first.handle("UpdateTable", {
    DatabaseName: "lake",
    TableInput: tableInput([...COLUMNS, { Name: "amount", Type: "int" }]),
    VersionId: "1",
  });
  first.handle("BatchCreatePartition", {
    DatabaseName: "lake",
    TableName: "events",
    PartitionInputList: [{ Values: ["2026-01-01"] }],
  });

  // Written whole with a rename: no temp file is left, and the file is complete JSON.
  assert.equal(existsSync(`${catalogFile}.tmp`), false);
  assert.equal(JSON.parse(readFileSync(catalogFile, "utf8")).version, 1);

  const second = new GlueEmulator({ catalogFile });
  const database = second.handle("GetDatabase", { Name: "lake" })["Database"] as Record<string, unknown>;
  assert.deepEqual(database["Parameters"], { owner: "sluice" });
  const table = second.handle("GetTable", { DatabaseName: "lake", Name: "events" })["Table"] as {
    VersionId: string;
    StorageDescriptor: { Columns: unknown[] };
  };
  assert.equal(table.VersionId, "2");
  assert.equal(table.StorageDescriptor.Columns.length, 2);
  const versions = second.handle("GetTableVersions", { DatabaseName: "lake", TableName: "events" })[
    "TableVersions"
  ] as { VersionId: string }[];
  assert.deepEqual(
    versions.map((v) => v.VersionId),
    ["2", "1"],
  );
  const partitions = second.handle("GetPartitions", { DatabaseName: "lake", TableName: "events" })[
    "Partitions"
  ] as { Values: string[] }[];
  assert.deepEqual(
    partitions.map((p) => p.Values),
    [["2026-01-01"]],
  );

  // The optimistic lock survives the restart too.
  assert.throws(
    () =>
      second.handle("UpdateTable", { DatabaseName: "lake", TableInput: tableInput(COLUMNS), VersionId: "1" }),
    (error: unknown) => error instanceof GlueError && error.type === "ConcurrentModificationException",
  );
});

test("a change whose write fails is not answered and not kept", () => {
  const catalogFile = join(dir, "failing", "catalog.json");
  const emulator = new GlueEmulator({ catalogFile });
  emulator.handle("CreateDatabase", { DatabaseInput: { Name: "lake" } });
  // A directory where the temp file should go makes the next write fail.
  mkdirSync(`${catalogFile}.tmp`);
  assert.throws(() =>
    emulator.handle("CreateTable", { DatabaseName: "lake", TableInput: tableInput(COLUMNS) }),
  );
  assert.throws(
    () => emulator.handle("GetTable", { DatabaseName: "lake", Name: "events" }),
    (error: unknown) => error instanceof GlueError && error.type === "EntityNotFoundException",
  );
  rmSync(`${catalogFile}.tmp`, { recursive: true });
  assert.ok(new GlueEmulator({ catalogFile }).handle("GetDatabase", { Name: "lake" })["Database"]);
});

test("without a catalog file nothing is written and a new emulator starts empty", () => {
  new GlueEmulator().handle("CreateDatabase", { DatabaseInput: { Name: "lake" } });
  assert.throws(
    () => new GlueEmulator().handle("GetDatabase", { Name: "lake" }),
    (error: unknown) => error instanceof GlueError && error.type === "EntityNotFoundException",
  );
});
