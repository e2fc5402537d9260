/**
 * Keeps a sink's Glue table on the columns of every registered version of the subjects it holds,
 * so Athena sees a new column as soon as its version is registered, without a deploy. Only the
 * columns change; the rest of the table (location, projection) stays as the deploy made it.
 * Updates are optimistic on the table's VersionId and retried on a concurrent change.
 */
import {
  type Column,
  GetTableCommand,
  type GlueClient,
  type Table,
  type TableInput,
  UpdateTableCommand,
} from "@aws-sdk/client-glue";
import type { JsonSchema } from "../manifest/types.ts";
import { lakeColumns } from "./columns.ts";

export interface CatalogTable {
  readonly database: string;
  readonly table: string;
  /** Subjects whose records the table's sink holds. */
  readonly subjects: readonly string[];
  /** An Iceberg sink's table: its committer evolves it, and integer may not widen to number. */
  readonly iceberg?: boolean;
}

export type SyncStatus = "updated" | "unchanged" | "missing" | "failed";

export interface SyncResult {
  readonly database: string;
  readonly table: string;
  readonly status: SyncStatus;
  /** Columns the update added or retyped. */
  readonly changed?: readonly string[];
  readonly message?: string;
}

const MAX_ATTEMPTS = 5;

const sameColumns = (a: readonly Column[], b: readonly Column[]) =>
  a.length === b.length && a.every((c, i) => c.Name === b[i]!.Name && c.Type === b[i]!.Type);

/** The fields UpdateTable takes back; GetTable answers with more (CreateTime, VersionId, ...). */
function inputOf(table: Table, columns: Column[]): TableInput {
  return {
    Name: table.Name,
    ...(table.Description === undefined ? {} : { Description: table.Description }),
    ...(table.Owner === undefined ? {} : { Owner: table.Owner }),
    ...(table.Retention === undefined ? {} : { Retention: table.Retention }),
    ...(table.TableType === undefined ? {} : { TableType: table.TableType }),
    ...(table.Parameters === undefined ? {} : { Parameters: table.Parameters }),
    ...(table.PartitionKeys === undefined ? {} : { PartitionKeys: table.PartitionKeys }),
    StorageDescriptor: { ...table.StorageDescriptor, Columns: columns },
  };
}

/**
 * Columns for `schemas` given newest first: a property's newest declaration wins, so a widened
 * column takes its new type, and a property a later version dropped stays, as old files hold it.
 */
export function catalogColumns(schemas: readonly JsonSchema[]): Column[] {
  return lakeColumns(schemas).columns.map((c) => ({
    Name: c.name,
    Type: c.type,
    ...(c.comment === undefined ? {} : { Comment: c.comment }),
  }));
}

export async function syncCatalogTable(
  glue: GlueClient,
  target: CatalogTable,
  schemasNewestFirst: readonly JsonSchema[],
): Promise<SyncResult> {
  const where = { database: target.database, table: target.table };
  const columns = catalogColumns(schemasNewestFirst);
  try {
    for (let attempt = 1; ; attempt++) {
      const { Table: table } = await glue.send(
        new GetTableCommand({ DatabaseName: target.database, Name: target.table }),
      );
      const current = table?.StorageDescriptor?.Columns ?? [];
      if (!table || sameColumns(current, columns)) return { ...where, status: "unchanged" };
      // An Iceberg table's columns follow its metadata, which only its committer writes.
      if (table.Parameters?.table_type === "ICEBERG")
        return { ...where, status: "unchanged", message: "Iceberg table: the committer applies the schema" };
      const before = new Map(current.map((c) => [c.Name, c.Type]));
      const changed = columns.filter((c) => before.get(c.Name) !== c.Type).map((c) => c.Name!);
      try {
        await glue.send(
          new UpdateTableCommand({
            DatabaseName: target.database,
            TableInput: inputOf(table, columns),
            ...(table.VersionId === undefined ? {} : { VersionId: table.VersionId }),
          }),
        );
        return { ...where, status: "updated", changed };
      } catch (err) {
        if ((err as Error).name !== "ConcurrentModificationException" || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    const e = err as Error;
    if (e.name === "EntityNotFoundException") return { ...where, status: "missing", message: e.message };
    return { ...where, status: "failed", message: `${e.name}: ${e.message}`.slice(0, 300) };
  }
}

export interface CatalogConfig {
  readonly database: string;
  readonly tables: readonly CatalogTable[];
}

/** Brings every table holding `subject` up to date; one result per table. */
export async function syncCatalogFor(
  glue: GlueClient,
  catalog: CatalogConfig,
  subject: string,
  /** Every version's schema of a subject, newest first. */
  schemasOf: (subject: string) => Promise<readonly JsonSchema[]>,
): Promise<SyncResult[]> {
  const tables = catalog.tables.filter((t) => t.subjects.includes(subject));
  if (tables.length === 0) return [];
  return Promise.all(
    tables.map(async (t) => {
      const schemas = (await Promise.all(t.subjects.map(schemasOf))).flat();
      return syncCatalogTable(glue, t, schemas);
    }),
  );
}
