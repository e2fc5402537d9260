/**
 * Streams created at run time: the create request checked field by field, and the runtime view
 * ingest uses for one (its subject and fields from the control item, the rest from the
 * manifest's `runtimeStreams` settings). Names follow the manifest's rule for stream names.
 */
import { SluiceError } from "../errors.ts";
import { FIELD_PATH } from "../manifest/prefix-checks.ts";
import type { RuntimeStreamsSettings } from "../manifest/types.ts";
import type { StreamRuntime } from "../runtime-config.ts";
import type { RuntimeStreamDef } from "./lifecycle.ts";

/** The manifest's `streamName` pattern, which ingest's path check uses too. */
export const STREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export interface CreateStreamRequest extends RuntimeStreamDef {
  readonly name: string;
}

function invalid(path: string, message: string): SluiceError {
  return new SluiceError("INVALID_REQUEST", message, 400, path);
}

/**
 * `{ "name": "orders", "schema": "shop.order", "eventTimeField"?: "ts", "partitionKey"?: "id" }`:
 * `schema` names a registered subject (`{namespace}.{name}`); whether it is registered is the
 * caller's next check.
 */
export function parseCreateStream(body: string | undefined): CreateStreamRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(body ?? "");
  } catch {
    throw new SluiceError("INVALID_JSON", "the body is not valid JSON", 400);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw invalid("", "the body is a JSON object: { name, schema, eventTimeField?, partitionKey? }");
  const r = raw as Record<string, unknown>;
  const known = new Set(["name", "schema", "eventTimeField", "partitionKey"]);
  const extra = Object.keys(r).find((k) => !known.has(k));
  if (extra !== undefined) throw invalid(`/${extra}`, `unknown field ${JSON.stringify(extra)}`);
  if (typeof r.name !== "string" || !STREAM_NAME.test(r.name)) {
    throw new SluiceError(
      "INVALID_STREAM_NAME",
      "stream names match ^[a-z0-9][a-z0-9._-]{0,127}$",
      400,
      "/name",
    );
  }
  if (typeof r.schema !== "string" || r.schema.length === 0)
    throw invalid("/schema", "schema names a registered subject, e.g. sluice.feedback");
  const fields: { eventTimeField?: string; partitionKey?: string } = {};
  for (const key of ["eventTimeField", "partitionKey"] as const) {
    const value = r[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || !FIELD_PATH.test(value))
      throw invalid(`/${key}`, `${key} is a field path such as "ts" or "order.id"`);
    fields[key] = value;
  }
  return { name: r.name, subject: r.schema, ...fields };
}

/** How ingest treats a run-time stream: its definition plus the manifest's run-time settings. */
export function runtimeStream(
  name: string,
  def: RuntimeStreamDef,
  settings: RuntimeStreamsSettings,
): StreamRuntime {
  return {
    name,
    subject: def.subject,
    ...(def.eventTimeField === undefined ? {} : { eventTimeField: def.eventTimeField }),
    ...(def.partitionKey === undefined ? {} : { partitionKey: def.partitionKey }),
    idempotencyTtlSeconds: settings.idempotencyTtlSeconds,
    maxFutureSkewSeconds: settings.maxFutureSkewSeconds,
  };
}
