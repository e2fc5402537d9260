/**
 * `sluice schema`: the registry over the ingest API, for people at a terminal.
 *   sluice schema register <subject> <file> [--compatibility MODE]
 *   sluice schema check <subject> <file> [--compatibility MODE]
 *   sluice schema list
 *   sluice schema show <subject> [version|latest]
 *   sluice schema config <subject> [MODE]
 * A subject is `namespace.name` (`name` alone is in namespace `default`). Exit codes: 0 ok,
 * 1 refused (incompatible, not found) or unreachable, 2 usage.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { apiBase, apiCaller, defaultKey, refusalLine } from "./api-client.ts";

export const SCHEMA_USAGE = `usage: sluice schema <register|check|list|show|config> [args] [options]

  register <subject> <file>   register the JSON Schema in <file> as the subject's next version
  check <subject> <file>      check <file> against the subject's versions without registering
  list                        every subject with its latest version
  show <subject> [version]    print a version (default: latest)
  config <subject> [mode]     print the subject's compatibility mode, or set it

options:
  --compatibility <mode>  with register: set the subject's mode first; with check: check as if
                          (NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE,
                          FULL, FULL_TRANSITIVE)
  --url <url>             ingest API (default: $SLUICE_URL or http://127.0.0.1:8080)
  --key <key>             API key (default: $SLUICE_API_KEY, else .sluice/dev-key if present)
`;

export class SchemaUsageError extends Error {
  override readonly name = "SchemaUsageError";
}

interface Incompatibility {
  pointer: string;
  reason: string;
  version: number;
  direction: string;
}

/** `namespace.name`: the name has no dots, so the namespace is everything before the last one. */
export function splitSubject(subject: string): { namespace: string; name: string } {
  const dot = subject.lastIndexOf(".");
  return dot < 0
    ? { namespace: "default", name: subject }
    : { namespace: subject.slice(0, dot), name: subject.slice(dot + 1) };
}

function fullSubject(subject: string): string {
  const { namespace, name } = splitSubject(subject);
  return `${namespace}.${name}`;
}

export function readSchema(file: string | undefined): unknown {
  if (!file) throw new SchemaUsageError("a schema file is required");
  const text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SchemaUsageError(`${file} is not JSON: ${(err as Error).message}`);
  }
}

/** One line per incompatibility, the form the issue tracker and a terminal both read well. */
export function incompatibilityLines(list: readonly Incompatibility[]): string[] {
  return list.map((i) => `  v${i.version} ${i.direction}  ${i.pointer}: ${i.reason}`);
}

export interface SchemaCommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const STD_IO: SchemaCommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const OPTIONS = {
  compatibility: { type: "string" },
  url: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const parse = (argv: readonly string[]) =>
  parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS });

/** Runs the command; returns the exit code. */
export async function runSchemaCommand(
  argv: readonly string[],
  io: SchemaCommandIo = STD_IO,
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${SCHEMA_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, subject, arg] = positionals;
  if (values.help || !command) {
    (values.help ? io.out : io.err)(SCHEMA_USAGE);
    return values.help ? 0 : 2;
  }
  const base = apiBase(values.url);
  const call = apiCaller(base, values.key ?? defaultKey());
  const refused = (json: Record<string, unknown>, status: number) => {
    const e = (json.error ?? {}) as { incompatibilities?: Incompatibility[] };
    io.err(refusalLine(status, json));
    const list = e.incompatibilities;
    if (list) io.err(`${incompatibilityLines(list).join("\n")}\n`);
    return 1;
  };
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new SchemaUsageError(`${command} needs ${what}`);
    return value;
  };

  try {
    switch (command) {
      case "register": {
        const { namespace, name } = splitSubject(need(subject, "a subject"));
        const schema = readSchema(arg);
        const r = await call("POST", "/v1/schemas", {
          name,
          namespace,
          schema,
          ...(values.compatibility ? { compatibility: values.compatibility } : {}),
        });
        if (r.status >= 300) return refused(r.json, r.status);
        const catalog = (r.json.catalog ?? []) as { database: string; table: string; status: string }[];
        io.out(
          `${r.json.subject} version ${r.json.version} ${r.json.created ? "registered" : "already registered"} (${r.json.compatibility})\n`,
        );
        for (const c of catalog) io.out(`  table ${c.database}.${c.table}: ${c.status}\n`);
        return 0;
      }
      case "check": {
        const s = fullSubject(need(subject, "a subject"));
        const r = await call("POST", `/v1/schemas/${encodeURIComponent(s)}/compatibility`, {
          schema: readSchema(arg),
          ...(values.compatibility ? { compatibility: values.compatibility } : {}),
        });
        if (r.status >= 300) return refused(r.json, r.status);
        const against = (r.json.checkedAgainst as number[]).join(", ") || "no versions";
        if (r.json.compatible) {
          io.out(`compatible (${r.json.mode}; registered: ${against})\n`);
          return 0;
        }
        const list = r.json.incompatibilities as Incompatibility[];
        io.out(`incompatible (${r.json.mode}; registered: ${against}): ${list.length}\n`);
        io.out(`${incompatibilityLines(list).join("\n")}\n`);
        return 1;
      }
      case "list": {
        const r = await call("GET", "/v1/schemas");
        if (r.status >= 300) return refused(r.json, r.status);
        const subjects = r.json.subjects as { subject: string; latestVersion: number; versions: number }[];
        const width = Math.max(7, ...subjects.map((x) => x.subject.length));
        io.out(`${"SUBJECT".padEnd(width)}  LATEST  VERSIONS\n`);
        for (const x of subjects) {
          io.out(
            `${x.subject.padEnd(width)}  ${String(x.latestVersion).padStart(6)}  ${String(x.versions).padStart(8)}\n`,
          );
        }
        return 0;
      }
      case "show": {
        const s = fullSubject(need(subject, "a subject"));
        const r = await call("GET", `/v1/schemas/${encodeURIComponent(s)}/versions/${arg ?? "latest"}`);
        if (r.status >= 300) return refused(r.json, r.status);
        io.out(`# ${r.json.subject} version ${r.json.version} (${r.json.createdAt})\n`);
        io.out(`${JSON.stringify(r.json.schema, null, 2)}\n`);
        return 0;
      }
      case "config": {
        const s = fullSubject(need(subject, "a subject"));
        const path = `/v1/schemas/${encodeURIComponent(s)}/config`;
        const r = arg ? await call("PUT", path, { compatibility: arg }) : await call("GET", path);
        if (r.status >= 300) return refused(r.json, r.status);
        io.out(`${r.json.subject}: ${r.json.compatibility}\n`);
        return 0;
      }
      default:
        throw new SchemaUsageError(`unknown schema command ${command}`);
    }
  } catch (err) {
    if (err instanceof SchemaUsageError) {
      io.err(`${err.message}\n\n${SCHEMA_USAGE}`);
      return 2;
    }
    io.err(`error: ${(err as Error).message} (is the ingest API at ${base} running?)\n`);
    return 1;
  }
}
