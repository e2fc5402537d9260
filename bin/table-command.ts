/**
 * `sluice table`: an Iceberg sink's table on the embedded stack of `npm start` (in AWS the
 * committer's schedule runs expiry and orphan removal).
 *   sluice table snapshots [sink]          every snapshot: id, time, operation, totals
 *   sluice table files [sink] [--snapshot ID]   the snapshot's data files (current by default)
 *   sluice table expire [sink] [--older-than-days N] [--retain-last N] [--dry-run]   (also `sluice expire`)
 *   sluice table orphans [sink] [--grace-hours N] [--dry-run]
 *   sluice table compact [sink]   (also `sluice compact [sink]`)
 * The sink defaults to the manifest's only Iceberg sink. Exit codes: 0 ok, 1 failure, 2 usage.
 */
import { parseArgs } from "node:util";
import { createMaintenance, type TableMaintenance, UnknownSink } from "../functions/commit/maintain.ts";
import { createAwsClients } from "../functions/core/aws-clients.ts";
import { createGlueClient } from "../functions/core/catalog/glue-client.ts";
import { loadManifest, ManifestError } from "../functions/core/manifest/index.ts";
import { LOCAL_ACCOUNT } from "../functions/core/names.ts";
import { runtimeConfig } from "../functions/core/runtime-config.ts";
import { customTransformNames } from "../functions/transform/custom.ts";
import { useLocalStackDefaults } from "./local-env.ts";

export const TABLE_USAGE = `usage: sluice table <snapshots|files|expire|orphans|compact> [sink] [options]

  snapshots            every snapshot of the sink's Iceberg table (the current one marked *)
  files                the data files of the current snapshot (or --snapshot ID), one per line:
                       s3 path, records, bytes; feed them to DuckDB's read_parquet([...])
  expire               drop snapshots older than --older-than-days (default 7) but the newest
                       --retain-last (default 1), then delete what only they reached
  orphans              delete files nothing references, older than --grace-hours (default 24)
  compact              rewrite the small files of closed partitions into target-size files in one
                       replace snapshot, dropping records whose id is already there (also: sluice compact)

options:
  --manifest <file>        manifest path (default: sluice.yaml)
  --endpoint <url>         the stack (default: $AWS_ENDPOINT_URL or http://127.0.0.1:4566)
  --snapshot <id>          with files: that snapshot instead of the current one
  --older-than-days <n>    with expire
  --retain-last <n>        with expire
  --grace-hours <n>        with orphans
  --dry-run                with expire and orphans: say what would go, delete nothing
`;

export interface TableCommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const STD_IO: TableCommandIo = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
};

const OPTIONS = {
  manifest: { type: "string", default: "sluice.yaml" },
  endpoint: { type: "string" },
  snapshot: { type: "string" },
  "older-than-days": { type: "string", default: "7" },
  "retain-last": { type: "string", default: "1" },
  "grace-hours": { type: "string", default: "24" },
  "dry-run": { type: "boolean", default: false },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

function count(name: string, text: string | undefined, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} ${String(text)} is not a whole number >= ${min}`);
  return n;
}

/** Runs the command; returns the exit code. */
export async function runTableCommand(
  argv: readonly string[],
  io: TableCommandIo = STD_IO,
  maintenanceFor?: (manifestPath: string, endpoint: string) => TableMaintenance,
): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${TABLE_USAGE}`);
    return 2;
  }
  const [command, sinkArg] = positionals;
  if (values.help || !command) {
    (values.help ? io.out : io.err)(TABLE_USAGE);
    return values.help ? 0 : 2;
  }
  if (!["snapshots", "files", "expire", "orphans", "compact"].includes(command)) {
    io.err(`unknown table command ${command}\n\n${TABLE_USAGE}`);
    return 2;
  }
  const endpoint = values.endpoint ?? process.env.AWS_ENDPOINT_URL ?? "http://127.0.0.1:4566";
  let maint: TableMaintenance;
  try {
    maint = (maintenanceFor ?? localMaintenance)(values.manifest, endpoint);
  } catch (err) {
    if (err instanceof ManifestError) {
      io.err(err.message);
      return 2;
    }
    throw err;
  }
  try {
    const sink = sinkArg ?? onlySink(maint);
    switch (command) {
      case "snapshots": {
        const snaps = await maint.snapshots(sink);
        if (snaps.length === 0) io.out(`${sink}: no snapshots yet`);
        for (const s of snaps) {
          io.out(
            `${s.current ? "*" : " "} ${s.id}  ${new Date(s.timestampMs).toISOString()}  ${s.operation}  ${s.totalRecords} records  ${s.totalFiles} files`,
          );
        }
        return 0;
      }
      case "files": {
        const id = values.snapshot === undefined ? undefined : count("snapshot", values.snapshot, 1);
        for (const f of await maint.files(sink, id)) io.out(`${f.path}\t${f.records}\t${f.size}`);
        return 0;
      }
      case "expire": {
        const out = await maint.expire(sink, {
          olderThanMs: count("older-than-days", values["older-than-days"], 0) * 86_400_000,
          retainLast: count("retain-last", values["retain-last"], 1),
          dryRun: values["dry-run"] === true,
        });
        const verb = values["dry-run"] ? "would expire" : "expired";
        io.out(`${sink}: ${verb} ${out.expired.length} snapshots, ${out.deleted.length} files`);
        for (const u of out.deleted) io.out(`  ${u}`);
        return 0;
      }
      case "compact": {
        const c = await maint.compact(sink);
        if (c.status === "unchanged") io.out(`${sink}: nothing to compact`);
        else if (c.status === "conflict")
          io.out(`${sink}: another compaction replaced these files first; nothing done`);
        else {
          io.out(
            `${sink}: compacted ${c.filesReplaced} files into ${c.filesAdded} in ${c.partitions} partitions (snapshot ${c.snapshotId}): ${c.records} records, ${c.droppedDuplicates} duplicates dropped`,
          );
          for (const u of c.outputs) io.out(`  ${u}`);
        }
        return 0;
      }
      default: {
        const out = await maint.orphans(sink, {
          graceMs: count("grace-hours", values["grace-hours"], 0) * 3_600_000,
          dryRun: values["dry-run"] === true,
        });
        io.out(
          `${sink}: ${values["dry-run"] ? "would delete" : "deleted"} ${out.orphans.length} orphan files`,
        );
        for (const u of out.orphans) io.out(`  ${u}`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${TABLE_USAGE}`);
      return 2;
    }
    if (err instanceof UnknownSink) {
      io.err(err.message);
      return 2;
    }
    io.err(`sluice table ${command}: ${(err as Error).name}: ${(err as Error).message}`);
    return 1;
  }
}

function onlySink(maint: TableMaintenance): string {
  if (maint.sinks.length === 1) return maint.sinks[0]!;
  throw new UsageError(
    maint.sinks.length === 0
      ? "the manifest has no Iceberg sink a pipeline writes to"
      : `name the sink: ${maint.sinks.join(", ")}`,
  );
}

/** The embedded stack's view of the manifest (account and region as `npm start` provisions them). */
function localMaintenance(manifestPath: string, endpoint: string): TableMaintenance {
  const manifest = loadManifest(manifestPath, {
    customTransforms: customTransformNames(),
    onWarning: () => {},
  });
  useLocalStackDefaults();
  const region = process.env.AWS_REGION ?? "us-east-1";
  return createMaintenance({
    config: runtimeConfig(manifest, LOCAL_ACCOUNT, region),
    clients: createAwsClients({ endpoint, region }),
    glue: createGlueClient({ endpoint, region }),
  });
}
