/**
 * TEST INFRASTRUCTURE ONLY: a Glue Data Catalog emulator for the embedded stack (LocalStack
 * Community has no Glue): databases, tables with their versions, and partitions, in memory or in
 * one JSON file. It checks what Glue checks on input and answers in Glue's shapes; it runs no
 * crawlers, jobs or Lake Formation permissions. Never point real data at it.
 */
import type { JsonObject } from "../aws-json-server.ts";
import { readStateFile, writeStateFile } from "../state-file.ts";
import {
  catalogIdOf,
  defined,
  entityName,
  GlueError,
  invalidInput,
  optionalBoolean,
  optionalObject,
  optionalString,
  page,
  parameters,
  requiredObject,
  tableDefinition,
  tableNamePattern,
} from "./input.ts";
import { createPartitions, listPartitions, type PartitionStore, partitionKey } from "./partitions.ts";

export { ACCOUNT_ID, GlueError } from "./input.ts";

export const GLUE_OPERATIONS = [
  "CreateDatabase",
  "GetDatabase",
  "GetDatabases",
  "DeleteDatabase",
  "CreateTable",
  "GetTable",
  "GetTables",
  "UpdateTable",
  "DeleteTable",
  "GetTableVersions",
  "BatchCreatePartition",
  "GetPartitions",
] as const;
export type GlueOperation = (typeof GLUE_OPERATIONS)[number];

export function isGlueOperation(name: string): name is GlueOperation {
  return (GLUE_OPERATIONS as readonly string[]).includes(name);
}

/** What Glue grants new tables when the caller names no permissions: IAM decides, not Lake Formation. */
const DEFAULT_TABLE_PERMISSIONS = [
  { Principal: { DataLakePrincipalIdentifier: "IAM_ALLOWED_PRINCIPALS" }, Permissions: ["ALL"] },
];

interface StoredTable {
  /** Every archived version and the current one, oldest first; `VersionId` is "1", "2", ... */
  readonly versions: JsonObject[];
  readonly partitions: PartitionStore;
}

interface StoredDatabase {
  readonly database: JsonObject;
  readonly tables: Map<string, StoredTable>;
}

interface CatalogFile {
  readonly version: 1;
  readonly catalogs: Record<
    string,
    readonly { database: JsonObject; tables: { versions: JsonObject[]; partitions: JsonObject[] }[] }[]
  >;
}

export interface GlueEmulatorOptions {
  /**
   * Keep the catalog in this JSON file: loaded at construction, rewritten whole (temp file, then
   * rename) before any change is answered. @default in memory only
   */
  readonly catalogFile?: string;
}

function nowSeconds(): number {
  return Date.now() / 1000;
}

function current(table: StoredTable): JsonObject {
  return table.versions[table.versions.length - 1]!;
}

function notFound(message: string): GlueError {
  return new GlueError("EntityNotFoundException", message);
}

/** CreateTable and UpdateTable name the table in TableInput; a top-level `Name`, if sent, must agree. */
function tableInputName(input: JsonObject, tableInput: JsonObject): string {
  const name = entityName(tableInput, "Name", "tableInput.name");
  if (input["Name"] !== undefined && entityName(input, "Name", "name") !== name) {
    throw invalidInput(`Name '${String(input["Name"])}' does not match TableInput.Name '${name}'`);
  }
  return name;
}

function byName(a: JsonObject, b: JsonObject): number {
  return String(a["Name"]) < String(b["Name"]) ? -1 : String(a["Name"]) > String(b["Name"]) ? 1 : 0;
}

/** State and operations of the emulated catalogs, one per catalog id (account). */
export class GlueEmulator {
  private readonly catalogs = new Map<string, Map<string, StoredDatabase>>();
  private readonly catalogFile: string | undefined;

  constructor(options: GlueEmulatorOptions = {}) {
    this.catalogFile = options.catalogFile;
    if (this.catalogFile !== undefined) this.load(this.catalogFile);
  }

  handle(operation: GlueOperation, input: JsonObject): JsonObject {
    switch (operation) {
      case "CreateDatabase":
        return this.createDatabase(input);
      case "GetDatabase":
        return { Database: structuredClone(this.database(input, "Name", "name").database) };
      case "GetDatabases":
        return this.getDatabases(input);
      case "DeleteDatabase":
        return this.deleteDatabase(input);
      case "CreateTable":
        return this.createTable(input);
      case "GetTable":
        return { Table: structuredClone(current(this.table(input, "Name"))) };
      case "GetTables":
        return this.getTables(input);
      case "UpdateTable":
        return this.updateTable(input);
      case "DeleteTable":
        return this.deleteTable(input);
      case "GetTableVersions":
        return this.getTableVersions(input);
      case "BatchCreatePartition":
        return this.batchCreatePartition(input);
      case "GetPartitions":
        return listPartitions(this.table(input, "TableName").partitions, input);
    }
  }

  private load(file: string): void {
    const stored = readStateFile(file) as CatalogFile | undefined;
    if (stored === undefined) return;
    if (stored.version !== 1 || typeof stored.catalogs !== "object" || stored.catalogs === null) {
      throw new Error(`${file} is not a Glue emulator catalog file (version 1)`);
    }
    for (const [catalogId, databases] of Object.entries(stored.catalogs)) {
      const catalog = this.catalog(catalogId);
      for (const { database, tables } of databases) {
        const entry: StoredDatabase = { database, tables: new Map() };
        for (const { versions, partitions } of tables) {
          const table: StoredTable = {
            versions,
            partitions: new Map(partitions.map((p) => [partitionKey(p["Values"]), p])),
          };
          entry.tables.set(String(current(table)["Name"]), table);
        }
        catalog.set(String(database["Name"]), entry);
      }
    }
  }

  /**
   * Makes a change durable before it is answered. On a failed write the file still holds the
   * state before the change (the rename never happened), so memory is reloaded from it.
   */
  private commit(): void {
    if (this.catalogFile === undefined) return;
    const stored: CatalogFile = {
      version: 1,
      catalogs: Object.fromEntries(
        [...this.catalogs].map(([catalogId, databases]) => [
          catalogId,
          [...databases.values()].map(({ database, tables }) => ({
            database,
            tables: [...tables.values()].map(({ versions, partitions }) => ({
              versions,
              partitions: [...partitions.values()],
            })),
          })),
        ]),
      ),
    };
    try {
      writeStateFile(this.catalogFile, stored);
    } catch (error) {
      this.catalogs.clear();
      this.load(this.catalogFile);
      throw error;
    }
  }

  private catalog(catalogId: string): Map<string, StoredDatabase> {
    let catalog = this.catalogs.get(catalogId);
    if (!catalog) {
      catalog = new Map();
      this.catalogs.set(catalogId, catalog);
    }
    return catalog;
  }

  private database(input: JsonObject, field: string, path: string): StoredDatabase {
    const name = entityName(input, field, path);
    // A plain lookup: reading an unknown catalog id must not create (and persist) an empty catalog.
    const database = this.catalogs.get(catalogIdOf(input))?.get(name);
    if (!database) throw notFound(`Database ${name} not found.`);
    return database;
  }

  private table(input: JsonObject, field: "Name" | "TableName"): StoredTable {
    const database = this.database(input, "DatabaseName", "databaseName");
    const name = entityName(input, field, field === "Name" ? "name" : "tableName");
    const table = database.tables.get(name);
    if (!table) throw notFound(`Table ${name} not found.`);
    return table;
  }

  private createDatabase(input: JsonObject): JsonObject {
    const catalogId = catalogIdOf(input);
    const databaseInput = requiredObject(input, "DatabaseInput", "databaseInput");
    const name = entityName(databaseInput, "Name", "databaseInput.name");
    const catalog = this.catalog(catalogId);
    if (catalog.has(name)) throw new GlueError("AlreadyExistsException", "Database already exists.");
    const permissions = databaseInput["CreateTableDefaultPermissions"];
    if (permissions !== undefined && permissions !== null && !Array.isArray(permissions)) {
      throw invalidInput("databaseInput.createTableDefaultPermissions must be a list");
    }
    const database = defined({
      Name: name,
      Description: optionalString(databaseInput, "Description", "databaseInput.description", 2048),
      LocationUri: optionalString(databaseInput, "LocationUri", "databaseInput.locationUri", 1024, true),
      Parameters: parameters(databaseInput, "Parameters", "databaseInput.parameters"),
      CreateTime: nowSeconds(),
      CreateTableDefaultPermissions: structuredClone(permissions ?? DEFAULT_TABLE_PERMISSIONS),
      CatalogId: catalogId,
    });
    catalog.set(name, { database, tables: new Map() });
    this.commit();
    return {};
  }

  private getDatabases(input: JsonObject): JsonObject {
    const databases = this.catalogs.get(catalogIdOf(input))?.values() ?? [];
    const all = [...databases].map((d) => d.database).sort(byName);
    const { items, nextToken } = page(all, (d) => String(d["Name"]), input, 100);
    return defined({ DatabaseList: structuredClone(items), NextToken: nextToken });
  }

  /** Deletes the database with all its tables, versions and partitions, as Glue does. */
  private deleteDatabase(input: JsonObject): JsonObject {
    const database = this.database(input, "Name", "name");
    this.catalog(catalogIdOf(input)).delete(String(database.database["Name"]));
    this.commit();
    return {};
  }

  private createTable(input: JsonObject): JsonObject {
    const database = this.database(input, "DatabaseName", "databaseName");
    if (input["OpenTableFormatInput"] !== undefined) {
      throw invalidInput("This emulator does not create open table format (Iceberg) tables");
    }
    const tableInput = requiredObject(input, "TableInput", "tableInput");
    const name = tableInputName(input, tableInput);
    if (database.tables.has(name)) throw new GlueError("AlreadyExistsException", "Table already exists.");
    const now = nowSeconds();
    const table: JsonObject = {
      Name: name,
      DatabaseName: database.database["Name"],
      CreateTime: now,
      UpdateTime: now,
      ...tableDefinition(tableInput, "tableInput"),
      IsRegisteredWithLakeFormation: false,
      CatalogId: database.database["CatalogId"],
      VersionId: "1",
    };
    database.tables.set(name, { versions: [table], partitions: new Map() });
    this.commit();
    return {};
  }

  private getTables(input: JsonObject): JsonObject {
    const database = this.database(input, "DatabaseName", "databaseName");
    const expression = optionalString(input, "Expression", "expression", 2048);
    const pattern = expression === undefined ? undefined : tableNamePattern(expression);
    const all = [...database.tables.values()]
      .map(current)
      .filter((table) => pattern === undefined || pattern.test(String(table["Name"])))
      .sort(byName);
    const { items, nextToken } = page(all, (t) => String(t["Name"]), input, 100);
    return defined({ TableList: structuredClone(items), NextToken: nextToken });
  }

  /**
   * Replaces the table's definition with TableInput (members left out are gone afterwards, as
   * on Glue). `VersionId`, when given, must be the current one: the optimistic lock that lets two
   * writers race without losing an update. The replaced version is archived unless SkipArchive.
   */
  private updateTable(input: JsonObject): JsonObject {
    const database = this.database(input, "DatabaseName", "databaseName");
    const tableInput = optionalObject(input, "TableInput", "tableInput");
    if (tableInput === undefined) {
      throw invalidInput("TableInput is required: this emulator does not update open table format tables");
    }
    const name = tableInputName(input, tableInput);
    const table = database.tables.get(name);
    if (!table) throw notFound(`Table ${name} not found.`);
    const definition = tableDefinition(tableInput, "tableInput");
    const previous = current(table);
    const expected = optionalString(input, "VersionId", "versionId", 255, true);
    if (expected !== undefined && expected !== previous["VersionId"]) {
      throw new GlueError(
        "ConcurrentModificationException",
        `Update table failed due to concurrent modifications: version ${expected} is not the current version ${previous["VersionId"]}.`,
      );
    }
    const next: JsonObject = {
      Name: name,
      DatabaseName: previous["DatabaseName"],
      CreateTime: previous["CreateTime"],
      UpdateTime: nowSeconds(),
      ...definition,
      IsRegisteredWithLakeFormation: false,
      CatalogId: previous["CatalogId"],
      VersionId: String(Number(previous["VersionId"]) + 1),
    };
    if (optionalBoolean(input, "SkipArchive", "skipArchive") === true) table.versions.pop();
    table.versions.push(next);
    this.commit();
    return {};
  }

  private deleteTable(input: JsonObject): JsonObject {
    const database = this.database(input, "DatabaseName", "databaseName");
    const name = entityName(input, "Name", "name");
    if (!database.tables.delete(name)) throw notFound(`Table ${name} not found.`);
    this.commit();
    return {};
  }

  /** Newest first. */
  private getTableVersions(input: JsonObject): JsonObject {
    const table = this.table(input, "TableName");
    const all = [...table.versions].reverse().map((version) => ({
      Table: version,
      VersionId: version["VersionId"],
    }));
    // Version ids sort as numbers, descending; the paging token compares keys as strings.
    const key = (entry: { VersionId: unknown }): string =>
      String(1e12 - Number(entry.VersionId)).padStart(13, "0");
    const { items, nextToken } = page(all, key, input, 100);
    return defined({ TableVersions: structuredClone(items), NextToken: nextToken });
  }

  private batchCreatePartition(input: JsonObject): JsonObject {
    const table = this.table(input, "TableName");
    const { output, changed } = createPartitions(table.partitions, current(table), input);
    if (changed) this.commit();
    return output;
  }
}
