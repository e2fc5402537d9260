/**
 * Undeliverable records as gzipped JSON lines under
 * `errors/{pipeline}/{stage}/{yyyy}/{MM}/{dd}/{HH}/`, one file per stage and hour, with the
 * record id, stage, code, message and the original payload.
 */
import { gzipSync } from "node:zlib";
import type { DeliveryFailure, OutputObject } from "./types.ts";

const pad = (n: number) => String(n).padStart(2, "0");

function hourPath(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}`;
}

function errorLine(f: DeliveryFailure, pipeline: string): string {
  const env = f.item.envelope;
  return JSON.stringify({
    recordId: env?.id ?? null,
    pipeline,
    stream: env?.stream ?? null,
    stage: f.stage,
    code: f.code,
    message: f.message,
    sequenceNumber: f.item.sequenceNumber,
    eventTime: env?.ts ?? null,
    receiveTime: env?.rt ?? null,
    schema: env?.schema ?? null,
    payload: env ? env.data : Buffer.from(f.item.raw).toString("utf8"),
  });
}

export function errorObjects(
  failures: readonly DeliveryFailure[],
  pipeline: string,
  shardId: string,
  firstSequence: string,
): OutputObject[] {
  const groups = new Map<string, DeliveryFailure[]>();
  for (const f of failures) {
    const eventMs = f.item.envelope ? Date.parse(f.item.envelope.ts) : f.item.arrivalMs;
    const key = `errors/${pipeline}/${f.stage}/${hourPath(Number.isNaN(eventMs) ? f.item.arrivalMs : eventMs)}/`;
    const list = groups.get(key) ?? [];
    list.push(f);
    groups.set(key, list);
  }
  return [...groups.entries()].map(([prefix, list]) => ({
    key: `${prefix}${shardId}-${firstSequence}-0.jsonl.gz`,
    body: gzipSync(`${list.map((f) => errorLine(f, pipeline)).join("\n")}\n`),
    contentType: "application/x-ndjson",
    contentEncoding: "gzip",
    records: list.length,
  }));
}
