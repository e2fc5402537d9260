/**
 * `sluice streams`: the stream lifecycle over the ingest API (admin key).
 *   sluice streams list
 *   sluice streams pause|resume|delete <stream>
 * Exit codes: 0 ok, 1 refused (bad transition, unknown stream) or unreachable, 2 usage.
 */
import { parseArgs } from "node:util";
import { apiBase, defaultKey, refusalLine } from "./api-client.ts";
import type { SchemaCommandIo } from "./schema-command.ts";

export const STREAMS_USAGE = `usage: sluice streams <list|pause|resume|delete> [stream] [options]

  list               every stream with its state and current schema version
  pause <stream>     refuse new records (409 STREAM_PAUSED); what was accepted is still delivered
  resume <stream>    take records again
  delete <stream>    stop the stream for good (its files stay in the lake, under retention)

options:
  --url <url>   ingest API (default: $SLUICE_URL or http://127.0.0.1:8080)
  --key <key>   admin API key (default: $SLUICE_API_KEY, else .sluice/dev-key if present)
`;

const STD_IO: SchemaCommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

interface StreamView {
  name: string;
  state: string;
  updatedAt?: string;
  schema: { subject: string; version: number | null };
}

const row = (s: StreamView, width: number) =>
  `${s.name.padEnd(width)}  ${s.state.padEnd(8)}  ${s.schema.subject}@${s.schema.version ?? "-"}${s.updatedAt ? `  since ${s.updatedAt}` : ""}\n`;

export async function runStreamsCommand(
  argv: readonly string[],
  io: SchemaCommandIo = STD_IO,
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { url: { type: "string" }, key: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${STREAMS_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, stream] = positionals;
  if (values.help || !command) {
    (values.help ? io.out : io.err)(STREAMS_USAGE);
    return values.help ? 0 : 2;
  }
  const base = apiBase(values.url as string | undefined);
  const key = (values.key as string | undefined) ?? defaultKey();
  const method = { list: "GET", pause: "POST", resume: "POST", delete: "DELETE" }[command];
  if (!method) {
    io.err(`unknown streams command ${command}\n\n${STREAMS_USAGE}`);
    return 2;
  }
  if (command !== "list" && !stream) {
    io.err(`${command} needs a stream\n\n${STREAMS_USAGE}`);
    return 2;
  }
  const path =
    command === "list"
      ? "/v1/streams"
      : command === "delete"
        ? `/v1/streams/${encodeURIComponent(stream!)}`
        : `/v1/streams/${encodeURIComponent(stream!)}/${command}`;
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status >= 300) {
      io.err(refusalLine(res.status, body));
      return 1;
    }
    const list = command === "list" ? (body.streams as StreamView[]) : [body as unknown as StreamView];
    const width = Math.max(6, ...list.map((s) => s.name.length));
    if (command === "list") io.out(`${"STREAM".padEnd(width)}  STATE     SCHEMA\n`);
    for (const s of list) io.out(row(s, width));
    return 0;
  } catch (err) {
    io.err(`error: ${(err as Error).message} (is the ingest API at ${base} running?)\n`);
    return 1;
  }
}
