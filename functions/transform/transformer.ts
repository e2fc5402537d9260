/**
 * The built-in transformer behind the Firehose data-transformation contract: base64 JSON in,
 * base64 JSON out, one result per record in input order. A record that cannot be decoded or
 * transformed fails alone and comes back with its original data, so the batcher can file it
 * under the errors prefix as it arrived.
 */
import type {
  TransformationEvent,
  TransformationRecordIn,
  TransformationRecordOut,
  TransformationResponse,
} from "../core/firehose-contract.ts";
import type { TransformStep } from "../core/manifest/types.ts";
import { isObject, type JsonObject } from "./paths.ts";
import { type CompiledPipeline, compileSteps } from "./steps.ts";

export interface TransformFailure {
  readonly recordId: string;
  readonly code: string;
  /** Names fields and types only, except CUSTOM_FAILED, which carries the transform's own error. */
  readonly message: string;
}

/** What one invocation did, for logs and metrics; holds no payloads. */
export interface TransformSummary {
  readonly invocationId: string;
  readonly records: number;
  readonly ok: number;
  readonly dropped: number;
  readonly failed: number;
  readonly failures: readonly TransformFailure[];
}

export interface TransformerOptions {
  /** Called once per invocation, after every record has a result. */
  readonly onSummary?: (summary: TransformSummary) => void;
  /** Clock for `{{now}}`; read once per invocation so a batch shares one time. */
  readonly now?: () => Date;
}

export type Transformer = (event: TransformationEvent) => Promise<TransformationResponse>;

type Decoded =
  | { readonly ok: true; readonly record: JsonObject }
  | { readonly ok: false; readonly failure: Omit<TransformFailure, "recordId"> };

function decode(data: unknown): Decoded {
  if (typeof data !== "string")
    return { ok: false, failure: { code: "INVALID_JSON", message: "data is not a base64 string" } };
  let text = Buffer.from(data, "base64").toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the payload, so it is not passed on.
    return { ok: false, failure: { code: "INVALID_JSON", message: "data is not valid JSON" } };
  }
  if (!isObject(parsed))
    return { ok: false, failure: { code: "NOT_AN_OBJECT", message: "data is not a JSON object" } };
  return { ok: true, record: parsed };
}

function transformOne(
  pipeline: CompiledPipeline,
  input: TransformationRecordIn,
  now: Date,
  failures: TransformFailure[],
): TransformationRecordOut {
  const { recordId, data } = input;
  const fail = (code: string, message: string): TransformationRecordOut => {
    failures.push({ recordId, code, message });
    return { recordId, result: "ProcessingFailed", data, error: { code, message } };
  };
  const decoded = decode(data);
  if (!decoded.ok) return fail(decoded.failure.code, decoded.failure.message);
  const outcome = pipeline.apply(decoded.record, { now, recordId });
  if (outcome.result === "Dropped") return { recordId, result: "Dropped", data };
  if (outcome.result === "ProcessingFailed") return fail(outcome.code, outcome.message);
  let encoded: string;
  try {
    encoded = Buffer.from(JSON.stringify(outcome.data), "utf8").toString("base64");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return fail("TRANSFORM_ERROR", `result is not serializable as JSON: ${reason.slice(0, 200)}`);
  }
  return outcome.partitionKeys === undefined
    ? { recordId, result: "Ok", data: encoded }
    : { recordId, result: "Ok", data: encoded, metadata: { partitionKeys: outcome.partitionKeys } };
}

/** Compiles `steps` now (throwing if malformed) and returns the per-invocation function. */
export function createTransformer(
  steps: readonly TransformStep[],
  options: TransformerOptions = {},
): Transformer {
  const pipeline = compileSteps(steps);
  const clock = options.now ?? (() => new Date());
  return async (event) => {
    if (!isObject(event) || !Array.isArray(event.records)) {
      throw new TypeError("not a transformation event: records is missing");
    }
    const now = clock();
    const failures: TransformFailure[] = [];
    const records: TransformationRecordOut[] = new Array(event.records.length);
    let ok = 0;
    let dropped = 0;
    for (let i = 0; i < event.records.length; i++) {
      const input = event.records[i]!;
      let out: TransformationRecordOut;
      try {
        out = transformOne(pipeline, input, now, failures);
      } catch (error) {
        // Nothing above should throw; if something does, it still costs only this record.
        const reason = error instanceof Error ? error.message : String(error);
        failures.push({ recordId: input.recordId, code: "TRANSFORM_ERROR", message: reason.slice(0, 200) });
        out = {
          recordId: input.recordId,
          result: "ProcessingFailed",
          data: input.data,
          error: { code: "TRANSFORM_ERROR", message: reason.slice(0, 200) },
        };
      }
      if (out.result === "Ok") ok++;
      else if (out.result === "Dropped") dropped++;
      records[i] = out;
    }
    options.onSummary?.({
      invocationId: event.invocationId,
      records: records.length,
      ok,
      dropped,
      failed: failures.length,
      failures,
    });
    return { records };
  };
}
