/**
 * `sluice query --athena`: SQL in the Athena workgroup (StartQueryExecution, then
 * GetQueryExecution until it ends, then GetQueryResults page by page), or the SQL the usual
 * flags ask for, built against the stream's Glue table. Against the embedded stack's Athena
 * emulator by default; a deployed stack's with --url (or --endpoint) and --workgroup.
 */
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import { queryTargets } from "../functions/core/catalog/athena-queries.ts";
import type { Manifest } from "../functions/core/manifest/types.ts";
import { parseInstant } from "../functions/core/query/request.ts";
import { runtimeConfig } from "../functions/core/runtime-config.ts";

/** A query that ended FAILED or CANCELLED, with Athena's reason. */
export class AthenaQueryFailed extends Error {
  override readonly name = "AthenaQueryFailed";
}

export interface AthenaRun {
  readonly client: AthenaClient;
  readonly sql: string;
  readonly database?: string;
  readonly workgroup: string;
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
}

export interface AthenaResult {
  readonly columns: string[];
  /** Each row as column -> text (Athena answers text); null cells are absent. */
  readonly rows: Record<string, string>[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runAthenaQuery(run: AthenaRun): Promise<AthenaResult> {
  const { client } = run;
  const { QueryExecutionId: id } = await client.send(
    new StartQueryExecutionCommand({
      QueryString: run.sql,
      WorkGroup: run.workgroup,
      ...(run.database ? { QueryExecutionContext: { Database: run.database } } : {}),
    }),
  );
  let poll = run.pollMs ?? 200;
  for (;;) {
    if (run.signal?.aborted) {
      await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      throw new AthenaQueryFailed(`query ${id} cancelled`);
    }
    const { QueryExecution: e } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = e?.Status?.State;
    if (state === "SUCCEEDED") break;
    if (state === "FAILED" || state === "CANCELLED")
      throw new AthenaQueryFailed(
        `Athena query ${id} ${state}: ${e?.Status?.StateChangeReason ?? e?.Status?.AthenaError?.ErrorMessage ?? "no reason given"}`,
      );
    await sleep(poll);
    poll = Math.min(poll * 2, 2_000);
  }
  let columns: string[] = [];
  const rows: Record<string, string>[] = [];
  let token: string | undefined;
  let first = true;
  do {
    const page = await client.send(
      new GetQueryResultsCommand({ QueryExecutionId: id, ...(token ? { NextToken: token } : {}) }),
    );
    if (first) columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => c.Name ?? "");
    const data = page.ResultSet?.Rows ?? [];
    // A SELECT's first row repeats the column names.
    for (const [i, r] of data.entries()) {
      if (first && i === 0) continue;
      const row: Record<string, string> = {};
      (r.Data ?? []).forEach((d, j) => {
        if (d.VarCharValue !== undefined) row[columns[j]!] = d.VarCharValue;
      });
      rows.push(row);
    }
    first = false;
    token = page.NextToken;
  } while (token);
  return { columns, rows };
}

export interface StreamSql {
  readonly stream: string;
  readonly from: string;
  readonly to?: string;
  readonly fields?: string;
  readonly where: readonly { field: string; equal: boolean; value: string }[];
  readonly limit?: string;
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const timestamp = (ms: number) =>
  `timestamp '${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}'`;

/** The SQL of `sluice query <stream> --from ... --athena`, over the stream's table. */
export function streamSql(manifest: Manifest, q: StreamSql, now: number): { sql: string; database: string } {
  const config = runtimeConfig(manifest, "000000000000", "us-east-1");
  const target = queryTargets(manifest, config).find((t) => t.name === q.stream);
  if (!target)
    throw new Error(
      manifest.streams.some((s) => s.name === q.stream)
        ? `stream ${q.stream}'s rows share a table with other streams and cannot be told apart by SQL; pass the SQL yourself`
        : `stream ${JSON.stringify(q.stream)} is not declared in ${manifest.path}`,
    );
  const conditions = [
    ...(target.filter ? [target.filter] : []),
    `_event_time >= ${timestamp(parseInstant("from", q.from, now))}`,
    ...(q.to === undefined ? [] : [`_event_time < ${timestamp(parseInstant("to", q.to, now))}`]),
    ...q.where.map((w) => `CAST(${ident(w.field)} AS varchar) ${w.equal ? "=" : "<>"} ${literal(w.value)}`),
  ];
  const fields =
    q.fields === undefined
      ? "*"
      : q.fields
          .split(",")
          .map((f) => ident(f.trim()))
          .join(", ");
  const limit = q.limit === undefined ? "" : ` LIMIT ${Number.parseInt(q.limit, 10)}`;
  return {
    database: target.database,
    sql: `SELECT ${fields} FROM ${ident(target.database)}.${ident(target.table)} WHERE ${conditions.join(" AND ")} ORDER BY _event_time, _id${limit}`,
  };
}
