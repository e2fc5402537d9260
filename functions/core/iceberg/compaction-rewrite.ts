/**
 * Rewrites one compaction group into files of about the target size, streaming: each input is
 * read one row group at a time (hyparquet, ranged GETs), its rows go back through Sluice's
 * encoder (compaction-rows.ts) and out one row group at a time (ParquetStreamWriter), so memory
 * holds one input row group, one output row group and the output file's bytes. A record whose
 * id already appeared in the group is dropped (the last line of defence against duplicates) and
 * counted. Inputs of different schema versions go to different outputs, each encoded with its
 * own version, as the batcher wrote them.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { type AsyncBuffer, type FileMetaData, parquetReadObjects } from "hyparquet";
import type { BackoffPolicy } from "../backoff.ts";
import { putObject } from "../delivery/object-writer.ts";
import type { JsonSchema } from "../manifest/types.ts";
import type { CompiledPlan } from "../parquet/columns.ts";
import { buildBatch } from "../parquet/convert-rows.ts";
import type { FieldIdMap } from "../parquet/field-ids.ts";
import { type ParquetCompression, type ParquetRow, planColumns } from "../parquet/index.ts";
import { arena } from "../parquet/memory.ts";
import { ParquetStreamWriter } from "../parquet/writer/stream-writer.ts";
import { COMPRESSORS, keyValue, readMetadata, s3Buffer } from "../query/lake-file.ts";
import { SLUICE_VERSION } from "../version.ts";
import { type CompactionGroup, compactedKey } from "./compaction-plan.ts";
import { EXACT_PARSERS, encoderRow, type StoredRow } from "./compaction-rows.ts";
import { fileStats } from "./file-stats.ts";
import type { PendingFile } from "./pending-files.ts";
import { keyOfUrl } from "./table-store.ts";

export interface RewriteDeps {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly kmsKeyId: string;
  readonly retry: BackoffPolicy;
  readonly sink: string;
  readonly compression: ParquetCompression;
  readonly rowGroupSize: number;
  readonly targetFileBytes: number;
  /** A registered version's schema and field ids. */
  readonly schemaOf: (
    subject: string,
    version: number,
  ) => Promise<{ readonly schema: JsonSchema; readonly fieldIds?: FieldIdMap } | undefined>;
}

export interface RewriteResult {
  readonly outputs: readonly PendingFile[];
  readonly recordsIn: number;
  readonly droppedDuplicates: number;
}

/** Rows buffered for one output row group are also bounded by their JSON text's size. */
const ROW_GROUP_TEXT_BYTES = 32 * 1024 * 1024;

export class CompactionError extends Error {
  override readonly name = "CompactionError";
}

interface Input {
  readonly key: string;
  readonly buffer: AsyncBuffer;
  readonly metadata: FileMetaData;
  readonly subject: string;
  readonly version: number;
}

export async function rewriteGroup(deps: RewriteDeps, group: CompactionGroup): Promise<RewriteResult> {
  const inputs: Input[] = [];
  for (const f of group.files) {
    const key = keyOfUrl(f.entry.data_file.file_path, deps.bucket);
    const buffer = s3Buffer(deps.s3, deps.bucket, key, f.entry.data_file.file_size_in_bytes, () => {});
    const metadata = await readMetadata(buffer);
    const subject = keyValue(metadata, "sluice.schema.name");
    const version = Number(keyValue(metadata, "sluice.schema.version"));
    if (!subject || !Number.isInteger(version))
      throw new CompactionError(`${key}: no sluice.schema.name/version in its metadata`);
    inputs.push({ key, buffer, metadata, subject, version });
  }
  // One run of outputs per schema version, in the order the versions first appear.
  const bins = new Map<string, Input[]>();
  for (const i of inputs) {
    const k = `${i.subject}@${i.version}`;
    bins.set(k, [...(bins.get(k) ?? []), i]);
  }
  const seen = new Set<string>();
  const outputs: PendingFile[] = [];
  let recordsIn = 0;
  let dropped = 0;
  const folderKey = keyOfUrl(`${group.folder}`, deps.bucket);
  for (const members of bins.values()) {
    const { subject, version } = members[0]!;
    const registered = await deps.schemaOf(subject, version);
    if (!registered) throw new CompactionError(`schema ${subject} version ${version} is not registered`);
    const plan = planColumns(registered.schema, registered.fieldIds) as CompiledPlan;
    const pipelines = new Set(members.map((m) => keyValue(m.metadata, "sluice.pipeline")));
    const metadata: Record<string, string> = {
      "sluice.schema.name": subject,
      "sluice.schema.version": String(version),
      ...(pipelines.size === 1 && [...pipelines][0] ? { "sluice.pipeline": [...pipelines][0]! } : {}),
      "sluice.version": SLUICE_VERSION,
      "sluice.compacted": "true",
    };
    let writer: ParquetStreamWriter | undefined;
    let rows: ParquetRow[] = [];
    let textBytes = 0;
    const finishFile = async () => {
      if (!writer || writer.rowCount === 0) return;
      const body = writer.finish();
      const key = compactedKey(folderKey, deps.sink, group, outputs.length);
      await putObject(
        { key, body, contentType: "application/vnd.apache.parquet", records: writer.rowCount },
        { s3: deps.s3, bucket: deps.bucket, kmsKeyId: deps.kmsKeyId, retry: deps.retry },
      );
      outputs.push({
        key,
        size: body.byteLength,
        records: writer.rowCount,
        partition: group.partition,
        stats: fileStats(body),
      });
      writer = undefined;
    };
    const flushRows = async () => {
      if (rows.length === 0) return;
      writer ??= new ParquetStreamWriter({
        compression: deps.compression,
        metadata,
        fieldIds: plan.fieldIds,
      });
      // Built and written in one synchronous step: the arena is shared with any other encoder
      // in the process (the local runner's batchers), which may only use it between awaits.
      try {
        const built = buildBatch(plan, rows);
        if (built.rejected.size > 0) {
          const r = [...built.rejected.values()][0]!;
          throw new CompactionError(
            `a stored row did not encode again (${r.code} at ${r.path}): nothing was replaced`,
          );
        }
        writer.writeRowGroup(built.columns, rows.length);
      } finally {
        arena.trim();
      }
      rows = [];
      textBytes = 0;
      if (writer.size >= deps.targetFileBytes) await finishFile();
    };
    for (const input of members) {
      let start = 0;
      for (const rg of input.metadata.row_groups) {
        const end = start + Number(rg.num_rows);
        const stored = (await parquetReadObjects({
          file: input.buffer,
          metadata: input.metadata,
          rowStart: start,
          rowEnd: end,
          compressors: COMPRESSORS,
          parsers: EXACT_PARSERS,
        })) as StoredRow[];
        start = end;
        for (const row of stored) {
          recordsIn++;
          const id = String(row._id);
          if (seen.has(id)) {
            dropped++;
            continue;
          }
          seen.add(id);
          const r = encoderRow(plan, row);
          rows.push(r);
          textBytes += (r.data as Uint8Array).byteLength;
          if (rows.length >= deps.rowGroupSize || textBytes >= ROW_GROUP_TEXT_BYTES) await flushRows();
        }
      }
    }
    await flushRows();
    await finishFile();
  }
  return { outputs, recordsIn, droppedDuplicates: dropped };
}
