/**
 * The Iceberg committer as a function of a tick (a schedule in AWS, a timer in the local
 * runner): one commit per Iceberg sink, each appending whatever its batchers have recorded.
 */
import type { GlueClient } from "@aws-sdk/client-glue";
import type { S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_BACKOFF } from "../core/backoff.ts";
import { glueName } from "../core/catalog/projection.ts";
import { catalogColumns } from "../core/catalog/sync.ts";
import { type CommitResult, commitTable } from "../core/iceberg/committer.ts";
import { PendingFiles } from "../core/iceberg/pending-files.ts";
import { TableStore } from "../core/iceberg/table-store.ts";
import type { Logger } from "../core/logger.ts";
import type { RuntimeConfig, SinkRuntime } from "../core/runtime-config.ts";
import { SchemaRegistry } from "../core/schema-registry.ts";

export interface CommitAppDeps {
  readonly config: RuntimeConfig;
  readonly clients: { readonly dynamo: DynamoDBDocumentClient; readonly s3: S3Client };
  readonly glue: GlueClient;
  readonly logger: Logger;
  /** Only this sink; every Iceberg sink when absent. */
  readonly sink?: string;
}

export type CommitApp = () => Promise<Record<string, CommitResult>>;

/** The Iceberg sinks a pipeline writes to, once each. */
export function icebergSinks(config: RuntimeConfig): SinkRuntime[] {
  const seen = new Map<string, SinkRuntime>();
  for (const p of Object.values(config.pipelines)) {
    if (p.sink.type === "iceberg" && !seen.has(p.sink.name)) seen.set(p.sink.name, p.sink);
  }
  return [...seen.values()];
}

export function createCommitApp(deps: CommitAppDeps): CommitApp {
  const registry = new SchemaRegistry(deps.clients.dynamo, deps.config.tables.schemas);
  const pending = new PendingFiles(deps.clients.dynamo, deps.config.tables.checkpoints);
  const sinks = icebergSinks(deps.config).filter((s) => deps.sink === undefined || s.name === deps.sink);
  const committers = sinks.map((sink) => {
    const table = deps.config.catalog.tables.find((t) => t.table === glueName(sink.name))!;
    const store = new TableStore(
      deps.glue,
      deps.clients.s3,
      { database: table.database, table: table.table, bucket: sink.bucket, kmsKeyId: sink.kmsKeyId },
      DEFAULT_BACKOFF,
    );
    const schemas = async () =>
      (await Promise.all(table.subjects.map((s) => registry.versions(s))))
        .flat()
        .sort((a, b) => b.version - a.version);
    return {
      sink: sink.name,
      run: () =>
        commitTable({
          store,
          pending,
          sink,
          schemas,
          columns: (versions) => catalogColumns(versions.map((v) => v.schema)),
        }),
    };
  });
  return async () => {
    const out: Record<string, CommitResult> = {};
    for (const c of committers) {
      const result = await c.run();
      out[c.sink] = result;
      if (result.status !== "unchanged") {
        deps.logger.info("iceberg commit", {
          sink: c.sink,
          status: result.status,
          files: result.files,
          records: result.records,
          attempts: result.attempts,
        });
      }
    }
    return out;
  };
}
