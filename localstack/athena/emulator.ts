/**
 * TEST INFRASTRUCTURE ONLY: the part of Amazon Athena `sluice query --athena` uses
 * (StartQueryExecution, GetQueryExecution, GetQueryResults, StopQueryExecution), for the embedded
 * stack, which real LocalStack Community lacks too. A query runs in DuckDB over views of the Glue
 * tables it names (tables.ts); its SQL is DuckDB's, close to Athena's (Trino) for the common
 * questions, not a Trino emulation. Results are kept in memory.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { GlueClient } from "@aws-sdk/client-glue";
import type { S3Client } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { AwsJsonError, type JsonObject } from "../aws-json-server.ts";
import { tableRefs, viewOf } from "./tables.ts";

const OPERATIONS = [
  "StartQueryExecution",
  "GetQueryExecution",
  "GetQueryResults",
  "StopQueryExecution",
] as const;
export type AthenaOperation = (typeof OPERATIONS)[number];
export const isAthenaOperation = (name: string): name is AthenaOperation =>
  (OPERATIONS as readonly string[]).includes(name);

type State = "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";

interface Execution {
  readonly id: string;
  readonly sql: string;
  readonly database?: string;
  readonly workGroup: string;
  readonly submitted: number;
  state: State;
  reason?: string;
  completed?: number;
  columns?: { Name: string; Type: string }[];
  rows?: (string | null)[][];
}

/** DuckDB's type names as Athena reports them in ColumnInfo. */
function athenaType(duck: string): string {
  const t = duck.toUpperCase();
  if (t.startsWith("TIMESTAMP")) return "timestamp";
  if (t.startsWith("DECIMAL")) return "decimal";
  const map: Record<string, string> = {
    VARCHAR: "varchar",
    BIGINT: "bigint",
    INTEGER: "integer",
    SMALLINT: "smallint",
    TINYINT: "tinyint",
    HUGEINT: "bigint",
    DOUBLE: "double",
    FLOAT: "float",
    BOOLEAN: "boolean",
    DATE: "date",
  };
  return map[t] ?? "varchar";
}

/** A value as Athena's VarCharValue spells it: timestamps `2026-05-01 10:00:00.000`. */
function text(value: unknown, type: string): string | null {
  if (value === null || value === undefined) return null;
  if (type === "timestamp") {
    const d = new Date(String(value));
    if (!Number.isNaN(d.getTime())) return d.toISOString().replace("T", " ").replace("Z", "");
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export interface AthenaEmulatorDeps {
  readonly glue: GlueClient;
  readonly s3: S3Client;
  readonly now?: () => number;
}

const PAGE_MAX = 1000;

export class AthenaEmulator {
  private readonly executions = new Map<string, Execution>();

  constructor(private readonly deps: AthenaEmulatorDeps) {}

  handle(operation: AthenaOperation, input: JsonObject): JsonObject {
    switch (operation) {
      case "StartQueryExecution":
        return this.start(input);
      case "GetQueryExecution":
        return { QueryExecution: this.describe(this.find(input)) };
      case "GetQueryResults":
        return this.results(this.find(input), input);
      case "StopQueryExecution": {
        const e = this.find(input);
        if (e.state === "QUEUED" || e.state === "RUNNING") {
          e.state = "CANCELLED";
          e.reason = "Query cancelled by user";
          e.completed = this.now();
        }
        return {};
      }
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private start(input: JsonObject): JsonObject {
    const sql = input.QueryString;
    if (typeof sql !== "string" || sql.trim() === "")
      throw new AwsJsonError("InvalidRequestException", "QueryString is required");
    const context = input.QueryExecutionContext as { Database?: string } | undefined;
    const id = randomUUID();
    const e: Execution = {
      id,
      sql,
      ...(context?.Database ? { database: context.Database } : {}),
      workGroup: typeof input.WorkGroup === "string" ? input.WorkGroup : "primary",
      submitted: this.now(),
      state: "QUEUED",
    };
    this.executions.set(id, e);
    void this.run(e);
    return { QueryExecutionId: id };
  }

  private async run(e: Execution): Promise<void> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "sluice-athena-"));
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    try {
      if (e.state === "CANCELLED") return;
      e.state = "RUNNING";
      // Athena's session zone: timestamp literals compare with the lake's UTC instants as UTC.
      await c.run("SET TimeZone = 'UTC'");
      const sources = { glue: this.deps.glue, s3: this.deps.s3, dir };
      const schemas = new Set<string>();
      for (const ref of tableRefs(e.sql, e.database)) {
        const view = await viewOf(sources, ref.database, ref.table);
        if (view === undefined) continue;
        if (!schemas.has(ref.database)) {
          await c.run(`CREATE SCHEMA IF NOT EXISTS "${ref.database.replace(/"/g, '""')}"`);
          schemas.add(ref.database);
        }
        await c.run(view);
      }
      if (e.database !== undefined && schemas.has(e.database))
        await c.run(`SET search_path = '${e.database.replace(/'/g, "''")}'`);
      const reader = await c.runAndReadAll(e.sql);
      if ((e.state as State) === "CANCELLED") return;
      const names = reader.columnNames();
      const types = reader.columnTypes().map((t) => athenaType(t.toString()));
      e.columns = names.map((Name, i) => ({ Name, Type: types[i]! }));
      e.rows = reader.getRowsJson().map((row) => row.map((v, i) => text(v, types[i]!)));
      e.state = "SUCCEEDED";
    } catch (err) {
      if ((e.state as State) !== "CANCELLED") {
        e.state = "FAILED";
        e.reason = (err as Error).message.split("\n")[0];
      }
    } finally {
      e.completed = this.now();
      c.closeSync();
      await rm(dir, { recursive: true, force: true });
    }
  }

  private find(input: JsonObject): Execution {
    const id = input.QueryExecutionId;
    const e = typeof id === "string" ? this.executions.get(id) : undefined;
    if (!e) throw new AwsJsonError("InvalidRequestException", `QueryExecution ${String(id)} was not found`);
    return e;
  }

  private describe(e: Execution): JsonObject {
    return {
      QueryExecutionId: e.id,
      Query: e.sql,
      StatementType: "DML",
      WorkGroup: e.workGroup,
      ...(e.database ? { QueryExecutionContext: { Database: e.database } } : {}),
      Status: {
        State: e.state,
        ...(e.reason ? { StateChangeReason: e.reason } : {}),
        SubmissionDateTime: e.submitted / 1000,
        ...(e.completed ? { CompletionDateTime: e.completed / 1000 } : {}),
      },
    };
  }

  /** Athena's first page starts with the header row; NextToken is the offset of the next row. */
  private results(e: Execution, input: JsonObject): JsonObject {
    if (e.state !== "SUCCEEDED")
      throw new AwsJsonError(
        "InvalidRequestException",
        e.state === "FAILED" || e.state === "CANCELLED"
          ? `Query has ${e.state === "FAILED" ? "failed" : "been cancelled"}: ${e.reason ?? ""}`
          : `Query has not yet finished. Current state: ${e.state}`,
      );
    const max = typeof input.MaxResults === "number" ? input.MaxResults : PAGE_MAX;
    if (max < 1 || max > PAGE_MAX)
      throw new AwsJsonError("InvalidRequestException", `MaxResults must be between 1 and ${PAGE_MAX}`);
    const columns = e.columns ?? [];
    const all = [columns.map((c) => c.Name), ...(e.rows ?? [])];
    const from = typeof input.NextToken === "string" ? Number(input.NextToken) : 0;
    if (!Number.isInteger(from) || from < 0 || from > all.length)
      throw new AwsJsonError("InvalidRequestException", "NextToken is not valid");
    const page = all.slice(from, from + max);
    const next = from + page.length;
    return {
      UpdateCount: 0,
      ResultSet: {
        Rows: page.map((row) => ({ Data: row.map((v) => (v === null ? {} : { VarCharValue: v })) })),
        ResultSetMetadata: {
          ColumnInfo: columns.map((c) => ({
            CatalogName: "hive",
            SchemaName: "",
            TableName: "",
            Name: c.Name,
            Label: c.Name,
            Type: c.Type,
            Precision: 0,
            Scale: 0,
            Nullable: "UNKNOWN",
            CaseSensitive: c.Type === "varchar",
          })),
        },
      },
      ...(next < all.length ? { NextToken: String(next) } : {}),
    };
  }
}
