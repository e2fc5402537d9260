/** The embedded stack's Glue Data Catalog, driven by the stock GlueClient over the wire through the edge. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  AlreadyExistsException,
  BatchCreatePartitionCommand,
  type Column,
  ConcurrentModificationException,
  CreateDatabaseCommand,
  CreateTableCommand,
  DeleteDatabaseCommand,
  DeleteTableCommand,
  EntityNotFoundException,
  GetDatabaseCommand,
  GetDatabasesCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  GetTableVersionsCommand,
  GlueClient,
  InvalidInputException,
  type TableInput,
  UpdateTableCommand,
} from "@aws-sdk/client-glue";
import { endpoint, glueUnavailable } from "../support/env.ts";

const skip = await glueUnavailable();

function unique(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

const V1_COLUMNS: Column[] = [
  { Name: "id", Type: "string" },
  { Name: "amount", Type: "int" },
];

function tableInput(name: string, columns: Column[] = V1_COLUMNS): TableInput {
  return {
    Name: name,
    TableType: "EXTERNAL_TABLE",
    Parameters: { classification: "parquet", "projection.enabled": "true" },
    PartitionKeys: [{ Name: "dt", Type: "string" }],
    StorageDescriptor: {
      Columns: columns,
      Location: `s3://lake/${name}/`,
      InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
      OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
      SerdeInfo: { SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" },
    },
  };
}

describe("Glue Data Catalog emulator", { skip }, () => {
  let glue: GlueClient;
  let database: string;

  before(async () => {
    glue = new GlueClient({
      region: "us-east-1",
      endpoint: endpoint(),
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    database = unique("sluice_db");
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database, Description: "tests" } }));
  });
  after(async () => {
    await glue.send(new DeleteDatabaseCommand({ Name: database })).catch(() => {});
    glue.destroy();
  });

  async function createTable(prefix = "events"): Promise<string> {
    const name = unique(prefix);
    await glue.send(new CreateTableCommand({ DatabaseName: database, TableInput: tableInput(name) }));
    return name;
  }

  test("a created database and table read back in Glue's shapes, at version 1", async () => {
    const { Database } = await glue.send(new GetDatabaseCommand({ Name: database }));
    assert.equal(Database?.Name, database);
    assert.equal(Database?.Description, "tests");
    assert.equal(Database?.CatalogId, "000000000000");
    assert.ok(Database?.CreateTime instanceof Date);
    const { DatabaseList } = await glue.send(new GetDatabasesCommand({}));
    assert.ok(DatabaseList?.some((d) => d.Name === database));

    const before = Date.now();
    const name = await createTable();
    const { Table } = await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }));
    assert.equal(Table?.Name, name);
    assert.equal(Table?.DatabaseName, database);
    assert.equal(Table?.VersionId, "1");
    assert.equal(Table?.TableType, "EXTERNAL_TABLE");
    assert.deepEqual(Table?.StorageDescriptor?.Columns, V1_COLUMNS);
    assert.deepEqual(Table?.PartitionKeys, [{ Name: "dt", Type: "string" }]);
    assert.equal(Table?.Parameters?.["projection.enabled"], "true");
    assert.equal(Table?.Retention, 0);
    // Epoch seconds on the wire; the SDK turns them back into Dates.
    assert.ok(Table?.CreateTime instanceof Date);
    assert.ok(Math.abs(Table.CreateTime.getTime() - before) < 60_000);
  });

  test("names are lowered as Glue does, so mixed case finds the same table", async () => {
    const name = unique("Mixed_Case");
    await glue.send(new CreateTableCommand({ DatabaseName: database, TableInput: tableInput(name) }));
    const { Table } = await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }));
    assert.equal(Table?.Name, name.toLowerCase());
  });

  test("GetTables pages with MaxResults and NextToken, and filters by Expression", async () => {
    const paged = unique("paged");
    const names = await Promise.all(
      [1, 2, 3, 4, 5].map(async (i) => {
        const name = `${paged}_${i}`;
        await glue.send(new CreateTableCommand({ DatabaseName: database, TableInput: tableInput(name) }));
        return name;
      }),
    );
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let token: string | undefined;
    do {
      const out = await glue.send(
        new GetTablesCommand({
          DatabaseName: database,
          Expression: `${paged}_*`,
          MaxResults: 2,
          NextToken: token,
        }),
      );
      pageSizes.push(out.TableList?.length ?? 0);
      for (const t of out.TableList ?? []) seen.push(t.Name!);
      token = out.NextToken;
    } while (token);
    assert.deepEqual(pageSizes, [2, 2, 1]);
    assert.deepEqual(seen, names);

    const some = await glue.send(
      new GetTablesCommand({ DatabaseName: database, Expression: `${paged}_1|${paged}_4` }),
    );
    assert.deepEqual(
      some.TableList?.map((t) => t.Name),
      [names[0], names[3]],
    );
  });

  test("an update at the current VersionId replaces the columns, bumps the version and archives the old one", async () => {
    const name = await createTable();
    const v2Columns = [...V1_COLUMNS, { Name: "currency", Type: "string", Comment: "ISO 4217" }];
    await glue.send(
      new UpdateTableCommand({
        DatabaseName: database,
        TableInput: tableInput(name, v2Columns),
        VersionId: "1",
      }),
    );
    const { Table } = await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }));
    assert.equal(Table?.VersionId, "2");
    assert.deepEqual(Table?.StorageDescriptor?.Columns, v2Columns);
    assert.ok(Table?.UpdateTime && Table.CreateTime && Table.UpdateTime >= Table.CreateTime);

    const { TableVersions } = await glue.send(
      new GetTableVersionsCommand({ DatabaseName: database, TableName: name }),
    );
    assert.deepEqual(
      TableVersions?.map((v) => [v.VersionId, v.Table?.StorageDescriptor?.Columns?.length]),
      [
        ["2", 3],
        ["1", 2],
      ],
    );
  });

  test("an update at a stale VersionId fails with ConcurrentModificationException and changes nothing", async () => {
    const name = await createTable();
    await glue.send(
      new UpdateTableCommand({ DatabaseName: database, TableInput: tableInput(name), VersionId: "1" }),
    );
    const stale = glue.send(
      new UpdateTableCommand({
        DatabaseName: database,
        TableInput: tableInput(name, [{ Name: "lost", Type: "string" }]),
        VersionId: "1",
      }),
    );
    await assert.rejects(stale, (error: Error) => {
      assert.equal(error.name, "ConcurrentModificationException");
      assert.ok(error instanceof ConcurrentModificationException);
      return true;
    });
    const { Table } = await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }));
    assert.equal(Table?.VersionId, "2");
    assert.deepEqual(Table?.StorageDescriptor?.Columns, V1_COLUMNS);
  });

  test("of two concurrent updates from the same VersionId, exactly one succeeds", async () => {
    const name = await createTable();
    const results = await Promise.allSettled(
      ["a", "b"].map((column) =>
        glue.send(
          new UpdateTableCommand({
            DatabaseName: database,
            TableInput: tableInput(name, [...V1_COLUMNS, { Name: column, Type: "string" }]),
            VersionId: "1",
          }),
        ),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.equal((lost[0]!.reason as Error).name, "ConcurrentModificationException");
    const { Table } = await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }));
    assert.equal(Table?.VersionId, "2");
    assert.equal(Table?.StorageDescriptor?.Columns?.length, 3);
  });

  test("missing databases and tables fail with EntityNotFoundException", async () => {
    const missing = unique("missing");
    const isNotFound = (error: Error): boolean => {
      assert.equal(error.name, "EntityNotFoundException");
      assert.ok(error instanceof EntityNotFoundException);
      assert.match(error.message, /not found/);
      return true;
    };
    await assert.rejects(glue.send(new GetDatabaseCommand({ Name: missing })), isNotFound);
    await assert.rejects(
      glue.send(new GetTableCommand({ DatabaseName: database, Name: missing })),
      isNotFound,
    );
    await assert.rejects(
      glue.send(new GetTableCommand({ DatabaseName: missing, Name: missing })),
      isNotFound,
    );
    await assert.rejects(
      glue.send(new UpdateTableCommand({ DatabaseName: database, TableInput: tableInput(missing) })),
      isNotFound,
    );
    await assert.rejects(
      glue.send(new CreateTableCommand({ DatabaseName: missing, TableInput: tableInput(missing) })),
      isNotFound,
    );
  });

  test("creating an existing database or table fails with AlreadyExistsException", async () => {
    const isAlreadyThere = (error: Error): boolean => {
      assert.equal(error.name, "AlreadyExistsException");
      assert.ok(error instanceof AlreadyExistsException);
      return true;
    };
    await assert.rejects(
      glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } })),
      isAlreadyThere,
    );
    const name = await createTable();
    await assert.rejects(
      glue.send(new CreateTableCommand({ DatabaseName: database, TableInput: tableInput(name) })),
      isAlreadyThere,
    );
  });

  test("a name longer than Glue's 255 characters fails with InvalidInputException", async () => {
    await assert.rejects(
      glue.send(new CreateTableCommand({ DatabaseName: database, TableInput: tableInput("t".repeat(256)) })),
      (error: Error) => error instanceof InvalidInputException && /255/.test(error.message),
    );
    await assert.rejects(
      glue.send(
        new CreateTableCommand({
          DatabaseName: database,
          TableInput: tableInput(unique("cols"), [{ Name: "bad\nname", Type: "string" }]),
        }),
      ),
      InvalidInputException,
    );
  });

  test("deleted tables and databases are gone", async () => {
    const name = await createTable();
    await glue.send(new DeleteTableCommand({ DatabaseName: database, Name: name }));
    await assert.rejects(
      glue.send(new GetTableCommand({ DatabaseName: database, Name: name })),
      EntityNotFoundException,
    );
    await assert.rejects(
      glue.send(new DeleteTableCommand({ DatabaseName: database, Name: name })),
      EntityNotFoundException,
    );

    const other = unique("sluice_db");
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: other } }));
    await glue.send(new CreateTableCommand({ DatabaseName: other, TableInput: tableInput("t") }));
    await glue.send(new DeleteDatabaseCommand({ Name: other }));
    await assert.rejects(glue.send(new GetDatabaseCommand({ Name: other })), EntityNotFoundException);
    await assert.rejects(
      glue.send(new GetTableCommand({ DatabaseName: other, Name: "t" })),
      EntityNotFoundException,
    );
  });

  test("a projected table lists no partitions; stored ones are listed, bad ones reported per partition", async () => {
    const name = await createTable();
    const empty = await glue.send(new GetPartitionsCommand({ DatabaseName: database, TableName: name }));
    assert.deepEqual(empty.Partitions, []);

    const created = await glue.send(
      new BatchCreatePartitionCommand({
        DatabaseName: database,
        TableName: name,
        PartitionInputList: [{ Values: ["2026-01-02"] }, { Values: ["2026-01-01"] }, { Values: ["a", "b"] }],
      }),
    );
    assert.deepEqual(
      created.Errors?.map((e) => [e.PartitionValues, e.ErrorDetail?.ErrorCode]),
      [[["a", "b"], "InvalidInputException"]],
    );
    const { Partitions } = await glue.send(
      new GetPartitionsCommand({ DatabaseName: database, TableName: name }),
    );
    assert.deepEqual(
      Partitions?.map((p) => [p.Values, p.TableName, p.CreationTime instanceof Date]),
      [
        [["2026-01-01"], name, true],
        [["2026-01-02"], name, true],
      ],
    );
  });
});
