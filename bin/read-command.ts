/**
 * `sluice query`, `sluice get` and `sluice tail`: the read API for people at a terminal.
 *   sluice query <stream> --from 1h [--to T] [--where f=v ...] [--fields a,b] [--limit N] [--format table|ndjson|csv]
 *   sluice get <stream> <key>
 *   sluice tail <stream> [--from 1h]
 *   sluice query --athena "<SQL>" | sluice query <stream> --athena --from 1h ...
 * Against the local stack by default (http://127.0.0.1:8080, key from .sluice/dev-key), a deployed
 * one with --url and --key. Exit codes: 0 ok, 1 refused or unreachable, 2 usage.
 */
import { parseArgs } from "node:util";
import { AthenaClient } from "@aws-sdk/client-athena";
import { loadManifest } from "../functions/core/manifest/index.ts";
import type { Manifest } from "../functions/core/manifest/types.ts";
import { sseEvents } from "../functions/core/query/sse-events.ts";
import { runtimeConfig } from "../functions/core/runtime-config.ts";
import { customTransformNames } from "../functions/transform/custom.ts";
import { apiBase, defaultKey } from "./api-client.ts";
import { AthenaQueryFailed, runAthenaQuery, streamSql } from "./athena-query.ts";
import { useLocalStackDefaults } from "./local-env.ts";

const LOCAL_ENDPOINT = "http://127.0.0.1:4566";

export const READ_USAGE = `usage:
  sluice query <stream> --from <time> [--to <time>] [--where field=value ...] [--fields a,b]
                        [--limit n] [--format table|ndjson|csv]
  sluice get <stream> <key>        a record by record id, partition key or idempotency key
  sluice tail <stream> [--from <time>]   replay from <time> (default: now), then follow live
  sluice query --athena "<SQL>" [--database db] [--workgroup wg] [--format ...]
  sluice query <stream> --athena --from <time> [--to ...] [--where ...] [--fields ...] [--limit n]
                                   the same question as SQL in Athena, over the stream's table

times are RFC 3339 (2026-05-01T10:00:00Z) or a duration ago (15m, 2h, 1d).
--where keeps rows whose field equals (=) or differs from (!=) the value; it filters the pages
the API returns, so it narrows the output, not what is scanned.

options:
  --url <url>   API (default: $SLUICE_URL or http://127.0.0.1:8080)
  --key <key>   API key (default: $SLUICE_API_KEY, else .sluice/dev-key if present)
  --athena      run as SQL in Athena: the embedded stack's emulator (at --endpoint, default
                $AWS_ENDPOINT_URL or http://127.0.0.1:4566), or AWS's when --url is given
  --workgroup <name>  Athena workgroup (default: primary; deployed: the AthenaWorkgroup output)
  --database <name>   Glue database for unqualified tables (default: the manifest's)
  --manifest <file>   for --athena: the stream's table and database (default: sluice.yaml)
`;

export interface ReadCommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly signal?: AbortSignal;
}

const STD_IO: ReadCommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  where: { type: "string", multiple: true },
  fields: { type: "string" },
  limit: { type: "string" },
  format: { type: "string", default: "table" },
  url: { type: "string" },
  key: { type: "string" },
  athena: { type: "boolean" },
  workgroup: { type: "string" },
  database: { type: "string" },
  manifest: { type: "string", default: "sluice.yaml" },
  endpoint: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Row = Record<string, unknown>;

export interface Condition {
  readonly field: string;
  readonly equal: boolean;
  readonly value: string;
}

export function parseWhere(text: string): Condition {
  const m = /^([A-Za-z_][A-Za-z0-9_.]*)(!=|=)(.*)$/.exec(text);
  if (!m) throw new Error(`--where ${JSON.stringify(text)} is not field=value or field!=value`);
  return { field: m[1]!, equal: m[2] === "=", value: m[3]! };
}

function fieldText(row: Row, field: string): string {
  let v: unknown = row;
  for (const k of field.split(".")) v = v && typeof v === "object" ? (v as Row)[k] : undefined;
  return v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
}

export function matches(row: Row, conditions: readonly Condition[]): boolean {
  return conditions.every((c) => (fieldText(row, c.field) === c.value) === c.equal);
}

function cell(v: unknown): string {
  return v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
}

function csvCell(v: unknown): string {
  const s = cell(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows as aligned columns (table), CSV with a header, or one JSON object a line. */
export function formatRows(rows: readonly Row[], format: string): string {
  if (format === "ndjson") return rows.map((r) => `${JSON.stringify(r)}\n`).join("");
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (format === "csv")
    return (
      [columns.join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\n") + "\n"
    );
  const widths = columns.map((c) => Math.min(40, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
  const line = (values: string[]) =>
    values
      .map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join("\n") + "\n";
}

class Refused extends Error {}

/** Runs `query`, `get` or `tail`; returns the exit code. */
export async function runReadCommand(
  command: "query" | "get" | "tail",
  argv: readonly string[],
  io: ReadCommandIo = STD_IO,
): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];
  let positionals: string[];
  let where: Condition[];
  let athenaArg: string | undefined;
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS }));
    where = (values.where ?? []).map(parseWhere);
    if (!["table", "ndjson", "csv"].includes(values.format ?? "table"))
      throw new Error(`--format must be table, ndjson or csv, not ${JSON.stringify(values.format)}`);
    if (values.help) {
      io.out(READ_USAGE);
      return 0;
    }
    if (command === "query" && values.athena) {
      if (positionals.length !== 1) throw new Error('--athena needs "<SQL>" or <stream>');
      athenaArg = positionals[0]!;
    }
    const wanted = command === "get" ? 2 : 1;
    if (athenaArg === undefined && positionals.length !== wanted)
      throw new Error(command === "get" ? "get needs <stream> <key>" : `${command} needs <stream>`);
    if (athenaArg === undefined && command === "query" && values.from === undefined)
      throw new Error("query needs --from");
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${READ_USAGE}`);
    return 2;
  }
  if (athenaArg !== undefined) return athena(athenaArg, values, where, io);
  const base = apiBase(values.url);
  const key = values.key ?? defaultKey();
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  const stream = encodeURIComponent(positionals[0]!);
  const call = async (path: string): Promise<Response> => {
    const res = await fetch(`${base}${path}`, { headers, ...(io.signal ? { signal: io.signal } : {}) });
    if (res.status !== 200) {
      const text = await res.text();
      let message = text;
      try {
        const e = (JSON.parse(text) as { error: { code: string; message: string } }).error;
        message = `${e.code}: ${e.message}`;
      } catch {}
      throw new Refused(`${res.status} ${message}`);
    }
    return res;
  };
  try {
    if (command === "tail") return await tail(call, stream, values.from, values.format ?? "ndjson", io);
    const params = new URLSearchParams();
    if (command === "get") params.set("key", positionals[1]!);
    for (const name of ["from", "to", "fields", "limit"] as const) {
      const v = values[name];
      if (v !== undefined) params.set(name, v);
    }
    const rows: Row[] = [];
    let cursor: string | null = null;
    do {
      const q = cursor
        ? new URLSearchParams({ cursor, ...(values.limit ? { limit: values.limit } : {}) })
        : params;
      const res = await call(`/v1/streams/${stream}/records?${q}`);
      const text = await res.text();
      for (const l of text.split("\n")) if (l) rows.push(JSON.parse(l) as Row);
      cursor = values.limit === undefined ? res.headers.get("sluice-next-cursor") : null;
    } while (cursor);
    const kept = rows.filter((r) => matches(r, where));
    if (command === "get" && kept.length === 0)
      throw new Refused(`no record of ${positionals[0]} has key ${positionals[1]}`);
    io.out(formatRows(kept, values.format ?? "table"));
    return 0;
  } catch (err) {
    if (err instanceof Refused || (err as Error).name === "TypeError") {
      io.err(`${(err as Error).message}${err instanceof Refused ? "" : ` (is the API at ${base} up?)`}\n`);
      return 1;
    }
    if ((err as Error).name === "AbortError") return 0;
    throw err;
  }
}

const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `--athena`: the positional is a stream name (SQL built from the flags) or the SQL itself. */
async function athena(
  what: string,
  values: { [K in keyof typeof OPTIONS]?: unknown },
  where: readonly Condition[],
  io: ReadCommandIo,
): Promise<number> {
  const v = values as Record<string, string | undefined>;
  const deployed = v.url !== undefined;
  if (!deployed) useLocalStackDefaults();
  const endpoint = v.endpoint ?? process.env.AWS_ENDPOINT_URL ?? (deployed ? undefined : LOCAL_ENDPOINT);
  let sql = what;
  let database = v.database;
  try {
    const byStream = STREAM_NAME.test(what);
    if (byStream && v.from === undefined) throw new Error("query <stream> --athena needs --from");
    if (byStream || database === undefined) {
      let manifest: Manifest | undefined;
      try {
        manifest = loadManifest(v.manifest ?? "sluice.yaml", {
          customTransforms: customTransformNames(),
          onWarning: () => {},
        });
      } catch (err) {
        if (byStream) throw err;
      }
      if (byStream) {
        const built = streamSql(
          manifest!,
          {
            stream: what,
            from: v.from!,
            ...(v.to === undefined ? {} : { to: v.to }),
            ...(v.fields === undefined ? {} : { fields: v.fields }),
            ...(v.limit === undefined ? {} : { limit: v.limit }),
            where,
          },
          Date.now(),
        );
        sql = built.sql;
        database ??= built.database;
      } else if (manifest) database = runtimeConfig(manifest, "0", "r").catalog.database;
    }
  } catch (err) {
    io.err(`${(err as Error).message}\n`);
    return 2;
  }
  const client = new AthenaClient({
    ...(endpoint ? { endpoint } : {}),
    ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}),
  });
  try {
    const result = await runAthenaQuery({
      client,
      sql,
      ...(database ? { database } : {}),
      workgroup: v.workgroup ?? "primary",
      ...(io.signal ? { signal: io.signal } : {}),
    });
    io.out(formatAthenaRows(result.columns, result.rows, v.format ?? "table"));
    return 0;
  } catch (err) {
    const e = err as Error & { $metadata?: unknown };
    if (err instanceof AthenaQueryFailed || e.$metadata !== undefined) {
      io.err(
        `${err instanceof AthenaQueryFailed ? "" : `Athena refused the query: ${e.name}: `}${e.message}\n`,
      );
      return 1;
    }
    if (e.name === "TypeError" || (e as { code?: string }).code === "ECONNREFUSED") {
      io.err(`${e.message} (is Athena at ${endpoint ?? "AWS"} up?)\n`);
      return 1;
    }
    throw err;
  } finally {
    client.destroy();
  }
}

/** Athena's rows in their column order, even where the first rows lack a column (null cells). */
function formatAthenaRows(
  columns: readonly string[],
  rows: readonly Record<string, string>[],
  format: string,
): string {
  if (rows.length === 0 && format !== "ndjson") return `${columns.join(format === "csv" ? "," : "  ")}\n`;
  const ordered = rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c]])));
  return formatRows(format === "ndjson" ? rows : ordered, format);
}

/** Prints each record as one JSON line (or a CSV/table row) as it arrives, until interrupted. */
async function tail(
  call: (path: string) => Promise<Response>,
  stream: string,
  from: string | undefined,
  format: string,
  io: ReadCommandIo,
): Promise<number> {
  const res = await call(
    `/v1/streams/${stream}/tail${from === undefined ? "" : `?from=${encodeURIComponent(from)}`}`,
  );
  for await (const { event, data } of sseEvents(res.body!)) {
    if (event === "record")
      io.out(
        format === "ndjson" || format === "table"
          ? `${data}\n`
          : formatRows([JSON.parse(data) as Row], format),
      );
    else if (event === "live") io.err("-- live --\n");
    else if (event === "skipped" || event === "error") io.err(`${event}: ${data}\n`);
  }
  return 0;
}
