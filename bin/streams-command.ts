/**
 * `sluice streams`: the stream lifecycle over the ingest API (admin key).
 *   sluice streams list
 *   sluice streams create <stream> --schema <subject|file>
 *   sluice streams pause|resume|delete <stream>
 * Exit codes: 0 ok, 1 refused (bad transition, unknown stream) or unreachable, 2 usage.
 */

import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { apiBase, apiCaller, defaultKey, refusalLine } from "./api-client.ts";
import { readSchema, type SchemaCommandIo, SchemaUsageError, splitSubject } from "./schema-command.ts";

export const STREAMS_USAGE = `usage: sluice streams <list|create|pause|resume|delete> [stream] [options]

  list               every stream with its state and current schema version
  create <stream> --schema <subject|file>
                     create a stream at run time, delivered by the manifest's runtimeStreams
                     pipeline; a file is registered first as subject sluice.<stream>
                     (--subject ns.name to choose), a subject must be registered already
  pause <stream>     refuse new records (409 STREAM_PAUSED); what was accepted is still delivered
  resume <stream>    take records again
  delete <stream>    stop the stream for good (its files stay in the lake, under retention)

options:
  --url <url>   ingest API (default: $SLUICE_URL or http://127.0.0.1:8080)
  --key <key>   admin API key (default: $SLUICE_API_KEY, else .sluice/dev-key if present)
  with create: --event-time-field <field>, --partition-key <field>, --subject <ns.name>
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
      options: {
        url: { type: "string" },
        key: { type: "string" },
        schema: { type: "string" },
        subject: { type: "string" },
        "event-time-field": { type: "string" },
        "partition-key": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
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
  if (command === "create") return createStream(stream, values as CreateOptions, base, key, io);
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

interface CreateOptions {
  readonly schema?: string;
  readonly subject?: string;
  readonly "event-time-field"?: string;
  readonly "partition-key"?: string;
}

/** The subject a schema file is registered as when --subject is not given: sluice.<stream>. */
export function defaultSubject(stream: string): string {
  const name = stream.replace(/[^A-Za-z0-9_-]/g, "_");
  return `sluice.${/^[A-Za-z]/.test(name) ? name : `s${name}`}`;
}

async function createStream(
  stream: string | undefined,
  o: CreateOptions,
  base: string,
  key: string | undefined,
  io: SchemaCommandIo,
): Promise<number> {
  if (!stream || !o.schema) {
    io.err(`create needs a stream and --schema <subject|file>\n\n${STREAMS_USAGE}`);
    return 2;
  }
  const call = apiCaller(base, key);
  try {
    let subject = o.schema;
    // A path to a file is a schema to register; anything else names a registered subject.
    if (existsSync(o.schema)) {
      subject = o.subject ?? defaultSubject(stream);
      const registered = await call("POST", "/v1/schemas", {
        ...splitSubject(subject),
        schema: readSchema(o.schema),
      });
      if (registered.status >= 300) {
        io.err(refusalLine(registered.status, registered.json));
        return 1;
      }
      io.out(
        `${registered.json.subject} version ${registered.json.version} ${registered.json.created ? "registered" : "already registered"}\n`,
      );
      subject = String(registered.json.subject);
    }
    const r = await call("POST", "/v1/streams", {
      name: stream,
      schema: subject,
      ...(o["event-time-field"] ? { eventTimeField: o["event-time-field"] } : {}),
      ...(o["partition-key"] ? { partitionKey: o["partition-key"] } : {}),
    });
    if (r.status >= 300) {
      io.err(refusalLine(r.status, r.json));
      return 1;
    }
    const view = r.json as unknown as StreamView & { pipeline: string };
    io.out(row(view, Math.max(6, view.name.length)));
    io.out(`  delivered by pipeline ${view.pipeline}\n`);
    return 0;
  } catch (err) {
    if (err instanceof SchemaUsageError) {
      io.err(`${err.message}\n`);
      return 2;
    }
    io.err(`error: ${(err as Error).message} (is the ingest API at ${base} running?)\n`);
    return 1;
  }
}
