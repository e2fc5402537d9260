/**
 * `sluice import`: import jobs over the API.
 *   sluice import <stream> s3://bucket/imports/key-or-prefix/ [--format csv]   create, then follow
 *   sluice import status <id>                                                  one look at a job
 * Exit codes: 0 succeeded (or status shown), 1 failed, refused, rejected records or unreachable,
 * 2 usage.
 */
import { parseArgs } from "node:util";
import { type ApiAnswer, apiBase, apiCaller, defaultKey, refusalLine } from "./api-client.ts";
import type { SchemaCommandIo } from "./schema-command.ts";

export const IMPORT_USAGE = `usage: sluice import <stream> s3://<bucket>/imports/<key or prefix/> [options]
       sluice import status <job id> [options]

  Creates an import job and follows it until it is done, printing its counts; the job reads each
  object (.ndjson/.jsonl, .json array, .csv, .parquet), validates every record as the ingest API
  does and puts it on the stream. Rejected lines go to s3://<bucket>/errors/imports/<job>/.

options:
  --format <f>      ndjson, json, csv or parquet (default: from each object's extension)
  --no-wait         print the job id and return at once
  --interval <ms>   how often to look at the job while following it (default 1000)
  --url <url>       API (default: $SLUICE_URL or http://127.0.0.1:8080)
  --key <key>       API key, admin or writer of the stream (default: $SLUICE_API_KEY, else .sluice/dev-key)
`;

const STD_IO: SchemaCommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

interface JobView {
  id: string;
  stream: string;
  source: string;
  state: "queued" | "running" | "succeeded" | "failed";
  progress: { chunks: number; done: number; failed: number };
  counts: { objects: number; recordsRead: number; accepted: number; duplicate: number; rejected: number };
  rejectedLines: string;
  errors: { code: string; message: string; object?: string }[];
}

const FINAL = new Set(["succeeded", "failed"]);

export function progressLine(job: JobView): string {
  const { counts: c, progress: p } = job;
  return `${job.id} ${job.state}: ${p.done + p.failed}/${p.chunks} chunks, ${c.objects} objects, ${c.recordsRead} read, ${c.accepted} accepted, ${c.duplicate} duplicate, ${c.rejected} rejected\n`;
}

function report(job: JobView, io: SchemaCommandIo): number {
  io.out(progressLine(job));
  for (const e of job.errors) io.err(`  ${e.code}: ${e.message}${e.object ? ` (${e.object})` : ""}\n`);
  if (job.counts.rejected > 0) io.out(`  rejected lines with their reasons: ${job.rejectedLines}\n`);
  return job.state === "failed" || job.counts.rejected > 0 ? 1 : 0;
}

export async function runImportCommand(
  argv: readonly string[],
  io: SchemaCommandIo = STD_IO,
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        format: { type: "string" },
        "no-wait": { type: "boolean" },
        interval: { type: "string" },
        url: { type: "string" },
        key: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${IMPORT_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length !== 2) {
    (values.help ? io.out : io.err)(IMPORT_USAGE);
    return values.help ? 0 : 2;
  }
  const interval = Number(values.interval ?? 1000);
  if (!Number.isFinite(interval) || interval < 10) {
    io.err(`--interval must be a number of milliseconds (10 or more)\n\n${IMPORT_USAGE}`);
    return 2;
  }
  const base = apiBase(values.url as string | undefined);
  const call = apiCaller(base, (values.key as string | undefined) ?? defaultKey());
  const [first, second] = positionals as [string, string];
  const status = (id: string) => call("GET", `/v1/imports/${encodeURIComponent(id)}`);
  try {
    let answer: ApiAnswer;
    if (first === "status") {
      answer = await status(second);
      if (answer.status !== 200) {
        io.err(refusalLine(answer.status, answer.json));
        return 1;
      }
      return report(answer.json as unknown as JobView, io);
    }
    answer = await call("POST", "/v1/imports", {
      stream: first,
      source: second,
      ...(values.format === undefined ? {} : { format: values.format }),
    });
    if (answer.status !== 202) {
      io.err(refusalLine(answer.status, answer.json));
      return 1;
    }
    let job = answer.json as unknown as JobView;
    io.out(`import ${job.id} of ${job.source} into ${job.stream}\n`);
    if (values["no-wait"]) return 0;
    let last = "";
    while (!FINAL.has(job.state)) {
      await new Promise((resolve) => setTimeout(resolve, interval));
      const next = await status(job.id);
      if (next.status !== 200) {
        io.err(refusalLine(next.status, next.json));
        return 1;
      }
      job = next.json as unknown as JobView;
      const line = progressLine(job);
      if (line !== last && !FINAL.has(job.state)) io.out(line);
      last = line;
    }
    return report(job, io);
  } catch (err) {
    io.err(`error: ${(err as Error).message} (is the API at ${base} running?)\n`);
    return 1;
  }
}
