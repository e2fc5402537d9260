/**
 * TEST INFRASTRUCTURE ONLY: the Glue tables a query names, as DuckDB views over their Parquet
 * files, fetched from S3 to a temp dir: a Parquet table's objects under its Location (partition
 * columns taken from each file's path by the table's `storage.location.template`, as partition
 * projection gives them to Athena), an Iceberg table's current snapshot's data files.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Column, GetTableCommand, type GlueClient, type Table } from "@aws-sdk/client-glue";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { DEFAULT_BACKOFF } from "../../functions/core/backoff.ts";
import { tableFiles } from "../../functions/core/iceberg/maintenance.ts";
import { TableStore } from "../../functions/core/iceberg/table-store.ts";

export interface TableSources {
  readonly glue: GlueClient;
  readonly s3: S3Client;
  /** Where fetched files go; one directory per query. */
  readonly dir: string;
}

const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

function splitUrl(url: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`not an S3 location: ${url}`);
  return { bucket: m[1]!, key: m[2]! };
}

/** Glue (Hive) column types as DuckDB's; nested and unknown types as text. */
function duckType(glueType: string): string {
  const t = glueType.toLowerCase();
  if (t === "string" || t.startsWith("varchar") || t.startsWith("char")) return "VARCHAR";
  if (t === "timestamp") return "TIMESTAMPTZ";
  const simple: Record<string, string> = {
    int: "INTEGER",
    integer: "INTEGER",
    bigint: "BIGINT",
    smallint: "SMALLINT",
    tinyint: "TINYINT",
    double: "DOUBLE",
    float: "FLOAT",
    boolean: "BOOLEAN",
    date: "DATE",
  };
  return simple[t] ?? "VARCHAR";
}

async function fetchObject(s: TableSources, bucket: string, key: string): Promise<string> {
  const local = path.join(s.dir, bucket, key);
  await mkdir(path.dirname(local), { recursive: true });
  const out = await s.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await writeFile(local, await out.Body!.transformToByteArray());
  return local;
}

async function listParquet(s: TableSources, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s.s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key?.endsWith(".parquet")) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The SQL of an empty view with the table's columns, for a table without files yet. */
function emptyView(columns: readonly Column[]): string {
  const list = columns.map((c) => `CAST(NULL AS ${duckType(c.Type ?? "string")}) AS ${quote(c.Name!)}`);
  return `SELECT ${list.join(", ")} WHERE false`;
}

/**
 * A regular expression over the local path of a fetched file that captures each partition value,
 * from the projection's template (`s3://b/${stream}/dt=${dt}/`).
 */
function partitionRegex(template: string, dir: string): { regex: string; names: string[] } {
  const { bucket, key } = splitUrl(template);
  const names: string[] = [];
  const root = `${path.join(dir, bucket)}/`;
  let regex = `^${root.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`;
  let last = 0;
  for (const m of key.matchAll(/\$\{([^}]+)\}/g)) {
    regex += key.slice(last, m.index).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    regex += "([^/]+)";
    names.push(m[1]!);
    last = m.index + m[0].length;
  }
  regex += key.slice(last).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return { regex, names };
}

/** `CREATE VIEW "db"."table"` over what the Glue table holds. */
export async function viewOf(s: TableSources, database: string, name: string): Promise<string | undefined> {
  let table: Table | undefined;
  try {
    table = (await s.glue.send(new GetTableCommand({ DatabaseName: database, Name: name }))).Table;
  } catch (err) {
    if ((err as { name?: string }).name === "EntityNotFoundException") return undefined;
    throw err;
  }
  if (!table) return undefined;
  const target = `${quote(database)}.${quote(name)}`;
  const columns = table.StorageDescriptor?.Columns ?? [];
  const partitions = table.PartitionKeys ?? [];
  let files: string[];
  if (table.Parameters?.table_type?.toUpperCase() === "ICEBERG") {
    const location = table.Parameters.metadata_location;
    if (!location) return `CREATE VIEW ${target} AS ${emptyView(columns)}`;
    const { bucket } = splitUrl(location);
    const store = new TableStore(
      s.glue,
      s.s3,
      { database, table: name, bucket, kmsKeyId: "" },
      DEFAULT_BACKOFF,
    );
    const loaded = await store.load();
    const data = loaded.metadata ? await tableFiles(store, loaded.metadata) : [];
    files = await Promise.all(
      data.map((f) => {
        const u = splitUrl(f.path);
        return fetchObject(s, u.bucket, u.key);
      }),
    );
  } else {
    const { bucket, key } = splitUrl(table.StorageDescriptor?.Location ?? "");
    files = await Promise.all((await listParquet(s, bucket, key)).map((k) => fetchObject(s, bucket, k)));
  }
  if (files.length === 0) return `CREATE VIEW ${target} AS ${emptyView([...columns, ...partitions])}`;
  const template = table.Parameters?.["storage.location.template"];
  let derived = "";
  if (template && partitions.length > 0) {
    const { regex, names } = partitionRegex(template, s.dir);
    derived = partitions
      .map((p) => {
        const group = names.indexOf(p.Name!) + 1;
        const value = group > 0 ? `regexp_extract(filename, ${literal(regex)}, ${group})` : "NULL";
        return `, TRY_CAST(${value} AS ${duckType(p.Type ?? "string")}) AS ${quote(p.Name!)}`;
      })
      .join("");
  }
  const list = files.map(literal).join(", ");
  return `CREATE VIEW ${target} AS SELECT * EXCLUDE (filename)${derived} FROM read_parquet([${list}], filename = true, union_by_name = true)`;
}

/** The `db.table` names a statement may refer to: qualified ones, and bare ones in `database`. */
export function tableRefs(sql: string, database: string | undefined): { database: string; table: string }[] {
  const id = `(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_]*))`;
  const refs = new Map<string, { database: string; table: string }>();
  const add = (d: string, t: string) => refs.set(`${d}.${t}`, { database: d, table: t });
  for (const m of sql.matchAll(new RegExp(`${id}\\s*\\.\\s*${id}`, "g"))) {
    add((m[1] ?? m[2]!).toLowerCase(), (m[3] ?? m[4]!).toLowerCase());
  }
  if (database !== undefined) {
    for (const m of sql.matchAll(new RegExp(`\\b(?:from|join)\\s+${id}(?!\\s*\\.)`, "gi"))) {
      add(database, (m[1] ?? m[2]!).toLowerCase());
    }
  }
  return [...refs.values()];
}
