/**
 * The transform stage: calls the pipeline's transformer with the Firehose contract and maps each
 * answer back to its record. A record the transformer omits, answers twice or answers with
 * bad data fails at the transform stage; a transformer that keeps failing fails them all.
 */

import { type BackoffPolicy, withRetries } from "../backoff.ts";
import { asBuffer } from "../bytes.ts";
import { FailpointError } from "../failpoints.ts";
import type { TransformationEvent, TransformerInvoker } from "../firehose-contract.ts";
import { OPEN_BRACE, skipJsonSpace } from "../json-chars.ts";
import { ANSWER_NOT_JSON, ANSWER_NOT_OBJECT, NOT_JSON, parsePayload } from "./payload.ts";
import type { DeliveryFailure, DeliveryItem } from "./types.ts";

export interface TransformOutcome {
  readonly items: DeliveryItem[];
  readonly failures: DeliveryFailure[];
  readonly dropped: number;
}

export interface TransformStageOptions {
  readonly invoke: TransformerInvoker;
  readonly transformer: string;
  readonly pipeline: string;
  readonly region: string;
  readonly shardId: string;
  readonly invocationId: string;
  readonly retry: BackoffPolicy;
  /** Per-call timeout; a slower transformer fails the call. */
  readonly timeoutMs: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error(`transformer timed out after ${ms} ms`), { name: "TransformerTimeout" }),
        ),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Why an answer cannot be a record, judged from its first byte: only text starting with `{` can
 * be a JSON object, and that is left whole for its first parser to check (a failure then is still
 * the transformer's, see `payloadNotJson`). Anything else is parsed, on this rare path only, to say
 * whether it is JSON at all.
 */
function answerProblem(answer: Uint8Array): string | undefined {
  if (answer[skipJsonSpace(answer, 0)] === OPEN_BRACE) return undefined;
  return parsePayload(answer) === NOT_JSON ? ANSWER_NOT_JSON : ANSWER_NOT_OBJECT;
}

/**
 * The transform stage. A transformer that fails the whole call (a Lambda that throws on one
 * record fails all of them) is called again on halves of the batch, once each, down to the
 * record it fails on: only that one goes to errors/, its neighbours go on. A timeout is not
 * bisected: each half would wait as long again.
 */
export async function transformItems(
  items: readonly DeliveryItem[],
  options: TransformStageOptions,
): Promise<TransformOutcome> {
  return bisected(items, options, { calls: BISECT_CALLS });
}

/** Calls allowed for bisecting one batch: enough to isolate a few bad records among thousands. */
const BISECT_CALLS = 64;

async function bisected(
  items: readonly DeliveryItem[],
  options: TransformStageOptions,
  budget: { calls: number },
): Promise<TransformOutcome> {
  const result = await transformOnce(items, options);
  const wholeCallFailed = result.items.length === 0 && result.failures[0]?.code === "TRANSFORM_INVOKE_FAILED";
  if (items.length < 2 || !wholeCallFailed || budget.calls < 2) return result;
  budget.calls -= 2;
  const half = Math.ceil(items.length / 2);
  const once = { ...options, retry: { ...options.retry, attempts: 1 } };
  const a = await bisected(items.slice(0, half), once, budget);
  const b = await bisected(items.slice(half), once, budget);
  return {
    items: [...a.items, ...b.items],
    failures: [...a.failures, ...b.failures],
    dropped: a.dropped + b.dropped,
  };
}

async function transformOnce(
  items: readonly DeliveryItem[],
  options: TransformStageOptions,
): Promise<TransformOutcome> {
  if (items.length === 0) return { items: [], failures: [], dropped: 0 };
  const event: TransformationEvent = {
    invocationId: options.invocationId,
    deliveryStreamArn: `arn:aws:firehose:${options.region}:000000000000:deliverystream/${options.pipeline}`,
    region: options.region,
    records: items.map((item) => ({
      recordId: item.envelope.id,
      data: asBuffer(item.payload).toString("base64"),
      approximateArrivalTimestamp: item.arrivalMs,
      kinesisRecordMetadata: {
        shardId: options.shardId,
        partitionKey: item.partitionKey,
        sequenceNumber: item.sequenceNumber,
        subsequenceNumber: "0",
        approximateArrivalTimestamp: item.arrivalMs,
      },
    })),
  };

  let response: Awaited<ReturnType<TransformerInvoker>>;
  try {
    response = await withRetries(
      options.retry,
      (err) => !(err instanceof FailpointError),
      () => withTimeout(options.invoke(options.transformer, event), options.timeoutMs),
    );
  } catch (err) {
    // A test's crash of the batcher itself, not a failure of the transformer.
    if (err instanceof FailpointError) throw err;
    const code =
      (err as Error).name === "TransformerTimeout" ? "TRANSFORM_TIMEOUT" : "TRANSFORM_INVOKE_FAILED";
    const message =
      code === "TRANSFORM_TIMEOUT"
        ? (err as Error).message
        : `the transformer failed on every attempt (${(err as Error).name})`;
    return {
      items: [],
      failures: items.map((item) => ({ item, stage: "transform", code, message })),
      dropped: 0,
    };
  }

  const answers = new Map<string, (typeof response.records)[number]>();
  const repeated = new Set<string>();
  for (const r of response.records ?? []) {
    if (answers.has(r.recordId)) repeated.add(r.recordId);
    answers.set(r.recordId, r);
  }
  const out: DeliveryItem[] = [];
  const failures: DeliveryFailure[] = [];
  let dropped = 0;
  for (const item of items) {
    const id = item.envelope.id;
    const answer = answers.get(id);
    if (!answer || repeated.has(id)) {
      failures.push({
        item,
        stage: "transform",
        code: "TRANSFORM_MISSING_RECORD",
        message: answer
          ? "the transformer answered this record twice"
          : "the transformer did not return this record",
      });
      continue;
    }
    if (answer.result === "Dropped") {
      dropped++;
      continue;
    }
    if (answer.result !== "Ok") {
      failures.push({
        item,
        stage: "transform",
        code: answer.error?.code ?? "PROCESSING_FAILED",
        message: answer.error?.message ?? "the transformer reported ProcessingFailed",
      });
      continue;
    }
    const answered = Buffer.from(typeof answer.data === "string" ? answer.data : "", "base64");
    const problem = answerProblem(answered);
    if (problem !== undefined) {
      failures.push({ item, stage: "transform", code: "TRANSFORM_BAD_OUTPUT", message: problem });
      continue;
    }
    const partitionKeys = answer.metadata?.partitionKeys;
    out.push({
      ...item,
      payload: answered,
      payloadOrigin: "transform",
      ...(partitionKeys ? { partitionKeys } : {}),
    });
  }
  return { items: out, failures, dropped };
}
