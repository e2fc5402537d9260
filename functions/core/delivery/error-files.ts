/**
 * Undeliverable records as gzipped JSON lines under
 * `errors/{pipeline}/{stage}/{yyyy}/{MM}/{dd}/{HH}/`, one file per stage and hour, with the
 * record id, stage, code, message and the original payload; for a payload that came encrypted,
 * its `enc` as received instead (with `payload: null`), so errors/ holds no plaintext that Kinesis
 * did not, and whoever may decrypt the stream's data keys can still recover the record.
 *
 * Decode reads only envelope heads, so a record whose own payload is not JSON may have failed
 * later, for another reason or at the transformer. Its line is what decode wrote when it parsed
 * whole records: NOT_AN_ENVELOPE, no envelope fields, the record as a string. Writing each line
 * parses the payload anyway, so this costs nothing more.
 */
import { gzipSync } from "node:zlib";
import type { SealedPayload } from "../crypto/types.ts";
import { NOT_JSON, parsePayload, recordNotJson, utf8Text } from "./payload.ts";
import type { DeliveryFailure, OutputObject } from "./types.ts";

const pad = (n: number) => String(n).padStart(2, "0");

function hourPath(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}`;
}

interface Filed {
  readonly failure: DeliveryFailure;
  readonly payload: unknown;
  readonly enc?: SealedPayload;
}

/**
 * A failure as filed, with the original payload's value, or the record's text without an
 * envelope, or an encrypted payload's `enc`.
 */
function filed(f: DeliveryFailure): Filed {
  let failure = f;
  if ("envelope" in f.item) {
    if (f.item.sealed !== undefined) return { failure, payload: null, enc: f.item.sealed };
    const payload = parsePayload(f.item.original);
    if (payload !== NOT_JSON) return { failure, payload };
    failure = recordNotJson(f.item);
  }
  return { failure, payload: utf8Text(failure.item.raw) };
}

function errorLine({ failure: f, payload, enc }: Filed, pipeline: string): string {
  const env = "envelope" in f.item ? f.item.envelope : undefined;
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
    payload,
    ...(enc === undefined ? {} : { enc }),
  });
}

export function errorObjects(
  failures: readonly DeliveryFailure[],
  pipeline: string,
  shardId: string,
  firstSequence: string,
): OutputObject[] {
  const groups = new Map<string, ReturnType<typeof filed>[]>();
  for (const line of failures.map(filed)) {
    const { item, stage } = line.failure;
    const eventMs = "envelope" in item ? Date.parse(item.envelope.ts) : item.arrivalMs;
    const key = `errors/${pipeline}/${stage}/${hourPath(Number.isNaN(eventMs) ? item.arrivalMs : eventMs)}/`;
    const list = groups.get(key) ?? [];
    list.push(line);
    groups.set(key, list);
  }
  return [...groups.entries()].map(([prefix, list]) => ({
    key: `${prefix}${shardId}-${firstSequence}-0.jsonl.gz`,
    body: gzipSync(`${list.map((l) => errorLine(l, pipeline)).join("\n")}\n`),
    contentType: "application/x-ndjson",
    contentEncoding: "gzip",
    records: list.length,
  }));
}
