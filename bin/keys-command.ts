/**
 * `sluice keys`: API keys over the admin API, and the first admin key of a deployed stack.
 *   sluice keys create --name <n> --role <role> [--streams a,b|*] [--expires <ISO-8601>]
 *   sluice keys create --admin [--name <n>] [--table <ApiKeysTable>] [--manifest sluice.yaml]
 *   sluice keys list
 *   sluice keys revoke <key id>
 * `--admin` is the bootstrap: no API key exists yet on a fresh deploy, so it writes the hashed key
 * straight into the API keys table with the caller's own AWS credentials (the standard chain,
 * AWS_PROFILE, AWS_REGION; AWS_ENDPOINT_URL for LocalStack). Exit codes: 0 ok, 1 refused or
 * unreachable, 2 usage.
 */
import { parseArgs } from "node:util";
import type { ApiKeyView } from "../functions/core/auth/api-keys.ts";
import { ApiKeyStore } from "../functions/core/auth/index.ts";
import { createAwsClients } from "../functions/core/aws-clients.ts";
import { SluiceError } from "../functions/core/errors.ts";
import { DEFAULT_MANIFEST_PATH, loadManifest, ManifestError } from "../functions/core/manifest/index.ts";
import { resourceNames } from "../functions/core/names.ts";
import { apiBase, apiCaller, defaultKey, refusalLine } from "./api-client.ts";

export const KEYS_USAGE = `usage: sluice keys <create|list|revoke> [args] [options]

  create --name <n> --role <role> [--streams a,b|*] [--expires <ISO-8601>]
                       create a key over the admin API; the secret is printed once
  create --admin [--name <n>] [--table <table>]
                       the first admin key of a deployed stack: written straight into the API keys
                       table with your AWS credentials (no API key needed); --table is the stack's
                       ApiKeysTable output (default: derived from the manifest's name)
  list                 every key: id, name, role, streams, state
  revoke <key id>      revoke a key; refused everywhere within 5 s. Revoking twice changes nothing

options:
  --url <url>          ingest API (default: $SLUICE_URL or http://127.0.0.1:8080)
  --key <key>          admin API key (default: $SLUICE_API_KEY, else .sluice/dev-key if present)
  --manifest <file>    with --admin: the manifest naming the app (default: ${DEFAULT_MANIFEST_PATH})
  --json               print the API's JSON answer instead of text
roles: admin, operator, schema_admin, writer, reader
`;

export interface KeysCommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const STD_IO: KeysCommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const OPTIONS = {
  name: { type: "string" },
  role: { type: "string" },
  streams: { type: "string" },
  expires: { type: "string" },
  admin: { type: "boolean" },
  table: { type: "string" },
  manifest: { type: "string", default: DEFAULT_MANIFEST_PATH },
  url: { type: "string" },
  key: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const parse = (argv: readonly string[]) =>
  parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS });

class KeysUsageError extends Error {
  override readonly name = "KeysUsageError";
}

function streamsOf(text: string | undefined): "*" | string[] {
  if (text === undefined || text.trim() === "*") return "*";
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function keyLine(k: ApiKeyView): string {
  const streams = k.streams === "*" ? "*" : k.streams.join(",");
  return `${k.keyId}  ${k.state.padEnd(7)}  ${k.role.padEnd(12)}  ${k.name}  streams=${streams}${k.expiresAt ? `  expires=${k.expiresAt}` : ""}`;
}

function created(io: KeysCommandIo, view: ApiKeyView, key: string, asJson: boolean): void {
  if (asJson) {
    io.out(`${JSON.stringify({ ...view, key })}\n`);
    return;
  }
  io.out(`${keyLine(view)}\n`);
  io.out(`key: ${key}\n`);
  io.err("This is the only time the key is shown: store it now (it is kept only as a hash).\n");
}

/** The bootstrap: the caller's IAM credentials write the hashed key into the table. */
async function bootstrap(values: ReturnType<typeof parse>["values"], io: KeysCommandIo): Promise<number> {
  let table = values.table;
  if (table === undefined) {
    try {
      table = resourceNames(loadManifest(values.manifest).name, "", "").tables.apiKeys;
    } catch (err) {
      if (err instanceof ManifestError) throw new KeysUsageError(`${err.message}\n(or pass --table)`);
      throw err;
    }
  }
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const { dynamo } = createAwsClients({
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
  });
  const store = new ApiKeyStore(dynamo, table);
  try {
    const out = await store.create({
      name: values.name ?? "bootstrap-admin",
      role: "admin",
      streams: "*",
      ...(values.expires === undefined ? {} : { expiresAt: values.expires }),
    });
    created(io, out.view, out.key, values.json === true);
    return 0;
  } catch (err) {
    if (err instanceof SluiceError) {
      io.err(`refused (${err.code}): ${err.message}${err.path ? ` at ${err.path}` : ""}\n`);
      return 1;
    }
    const name = (err as Error).name;
    io.err(
      `error: cannot write to table ${table} (${name}: ${(err as Error).message}); ` +
        "your AWS credentials need dynamodb:PutItem on it, and --table must be the stack's ApiKeysTable output\n",
    );
    return 1;
  }
}

/** Runs the command; returns the exit code. */
export async function runKeysCommand(argv: readonly string[], io: KeysCommandIo = STD_IO): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${KEYS_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, arg] = positionals;
  if (values.help || !command) {
    (values.help ? io.out : io.err)(KEYS_USAGE);
    return values.help ? 0 : 2;
  }
  const base = apiBase(values.url);
  const call = apiCaller(base, values.key ?? defaultKey());
  const refused = (json: Record<string, unknown>, status: number) => {
    io.err(refusalLine(status, json));
    return 1;
  };
  try {
    switch (command) {
      case "create": {
        if (values.admin) return await bootstrap(values, io);
        if (!values.name || !values.role)
          throw new KeysUsageError("create needs --name and --role (or --admin)");
        const r = await call("POST", "/v1/keys", {
          name: values.name,
          role: values.role,
          streams: streamsOf(values.streams),
          ...(values.expires === undefined ? {} : { expiresAt: values.expires }),
        });
        if (r.status >= 300) return refused(r.json, r.status);
        const { key: secret, ...view } = r.json as unknown as ApiKeyView & { key: string };
        created(io, view, secret, values.json === true);
        return 0;
      }
      case "list": {
        const r = await call("GET", "/v1/keys");
        if (r.status >= 300) return refused(r.json, r.status);
        if (values.json) io.out(`${JSON.stringify(r.json)}\n`);
        else for (const k of r.json.keys as ApiKeyView[]) io.out(`${keyLine(k)}\n`);
        return 0;
      }
      case "revoke": {
        if (!arg) throw new KeysUsageError("revoke needs a key id (sluice keys list shows them)");
        const r = await call("DELETE", `/v1/keys/${encodeURIComponent(arg)}`);
        if (r.status >= 300) return refused(r.json, r.status);
        if (values.json) io.out(`${JSON.stringify(r.json)}\n`);
        else
          io.out(`${arg} ${r.json.revoked ? "revoked" : `was already revoked (at ${r.json.revokedAt})`}\n`);
        return 0;
      }
      default:
        throw new KeysUsageError(`unknown keys command ${command}`);
    }
  } catch (err) {
    if (err instanceof KeysUsageError) {
      io.err(`${err.message}\n\n${KEYS_USAGE}`);
      return 2;
    }
    io.err(`error: ${(err as Error).message} (is the ingest API at ${base} running?)\n`);
    return 1;
  }
}
