/**
 * `sluice stats <stream> [--minutes 60] [--json]`: a stream's figures from
 * `GET /v1/streams/{stream}/stats`, as tables: totals, rejections by code, per pipeline, and
 * the minutes that had traffic.
 * Exit codes: 0 ok, 1 refused or unreachable, 2 usage.
 */
import { parseArgs } from "node:util";
import type { StreamStats } from "../functions/core/stats/stream-stats.ts";
import { apiBase, apiCaller, defaultKey, refusalLine } from "./api-client.ts";
import type { SchemaCommandIo } from "./schema-command.ts";

export const STATS_USAGE = `usage: sluice stats <stream> [options]

  records and bytes accepted, duplicates, rejected (by code), delivered, files and the
  end-to-end lag (event time to file) of a stream, with the minutes that had traffic

options:
  --minutes <n>  how far back, 1 to 1440 (default: 60)
  --json         the API's answer as it is
  --url <url>    ingest API (default: $SLUICE_URL or http://127.0.0.1:8080)
  --key <key>    API key, reader or up (default: $SLUICE_API_KEY, else .sluice/dev-key if present)
`;

const STD_IO: SchemaCommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

const lag = (ms: number | null) =>
  ms === null ? "-" : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;

/** Columns padded to their widest cell, two spaces apart. */
function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}

export function formatStats(s: StreamStats): string {
  const t = s.totals;
  const parts = [
    `stream ${s.stream}: the last ${s.minutes} min (${s.from} to ${s.to})\n`,
    table([
      ["ACCEPTED", "DUPLICATES", "REJECTED", "BYTES", "DELIVERED", "FILES", "LAG MAX"],
      [
        String(t.accepted),
        String(t.duplicates),
        String(t.rejected),
        formatBytes(t.bytes),
        String(t.delivered),
        String(t.files),
        lag(t.lagMaxMs),
      ],
    ]),
  ];
  const codes = Object.entries(s.rejectedByCode).sort(([, a], [, b]) => b - a);
  if (codes.length > 0)
    parts.push("\n", table([["REJECTED BY CODE", "RECORDS"], ...codes.map(([c, n]) => [c, String(n)])]));
  const pipelines = Object.entries(s.pipelines);
  if (pipelines.length > 0) {
    parts.push(
      "\n",
      table([
        ["PIPELINE", "DELIVERED", "FILES", "LAG MAX"],
        ...pipelines.map(([name, p]) => [name, String(p.delivered), String(p.files), lag(p.lagMaxMs)]),
      ]),
    );
  }
  const busy = s.series.filter((m) => m.accepted + m.duplicates + m.rejected + m.delivered > 0);
  parts.push(
    "\n",
    busy.length === 0
      ? "no traffic in this window\n"
      : table([
          ["MINUTE (UTC)", "ACCEPTED", "DUPLICATES", "REJECTED", "BYTES", "DELIVERED"],
          ...busy.map((m) => [
            m.time.slice(0, 16).replace("T", " "),
            String(m.accepted),
            String(m.duplicates),
            String(m.rejected),
            formatBytes(m.bytes),
            String(m.delivered),
          ]),
        ]),
  );
  return parts.join("");
}

export async function runStatsCommand(
  argv: readonly string[],
  io: SchemaCommandIo = STD_IO,
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        minutes: { type: "string" },
        json: { type: "boolean", default: false },
        url: { type: "string" },
        key: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${STATS_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(STATS_USAGE);
    return 0;
  }
  const [stream, ...extra] = positionals;
  if (!stream || extra.length > 0) {
    io.err(`${stream ? `unexpected ${extra.join(" ")}` : "stats needs a stream"}\n\n${STATS_USAGE}`);
    return 2;
  }
  const minutes = values.minutes as string | undefined;
  if (minutes !== undefined && !/^\d+$/.test(minutes)) {
    io.err(`--minutes ${minutes} is not a whole number\n\n${STATS_USAGE}`);
    return 2;
  }
  const base = apiBase(values.url as string | undefined);
  const call = apiCaller(base, (values.key as string | undefined) ?? defaultKey());
  const query = minutes === undefined ? "" : `?minutes=${minutes}`;
  try {
    const { status, json } = await call("GET", `/v1/streams/${encodeURIComponent(stream)}/stats${query}`);
    if (status !== 200) {
      io.err(refusalLine(status, json));
      return 1;
    }
    io.out(values.json ? `${JSON.stringify(json, null, 2)}\n` : formatStats(json as unknown as StreamStats));
    return 0;
  } catch (err) {
    io.err(`error: ${(err as Error).message} (is the ingest API at ${base} running?)\n`);
    return 1;
  }
}
