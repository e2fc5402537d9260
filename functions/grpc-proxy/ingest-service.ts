/**
 * The sluice.v1.IngestService handlers: each turns its call into forwarded batches and the
 * answers into acks or a status. The work is in records.ts, forwarder.ts, status.ts and
 * stream-session.ts.
 */
import type {
  Metadata,
  ServerDuplexStream,
  ServerUnaryCall,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";
import { batchAcks, isCallError, planBatch } from "./batch-request.ts";
import type { Forwarder, ForwardOutcome } from "./forwarder.ts";
import type {
  AckMessage,
  IngestBatchRequestMessage,
  IngestBatchResponseMessage,
  IngestRequestMessage,
  IngestResponseMessage,
  RecordMessage,
} from "./protos.ts";
import { MalformedMessage } from "./protos.ts";
import { batchBody, type ForwardItem, toForwardItem } from "./records.ts";
import type { ProxyStats } from "./stats.ts";
import { ackFromResult, callError, callErrorFromAck, callErrorFromRefusal, rejectedAck } from "./status.ts";
import { type CoalescingLimits, StreamSession } from "./stream-session.ts";

/** Metadata passed to the ingest API unchanged: it authenticates the producer, not the proxy. */
const PASSED_THROUGH = ["authorization", "x-api-key"] as const;

export interface IngestServiceDeps {
  readonly forwarder: Forwarder;
  readonly limits: CoalescingLimits;
  readonly stats: ProxyStats;
  readonly logger: Logger;
  /** Open stream calls, so shutdown can drain them. */
  readonly sessions: Set<StreamSession>;
}

export function passThroughHeaders(metadata: Metadata): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = metadata.get(name)[0];
    if (value !== undefined) headers[name] = typeof value === "string" ? value : value.toString("utf8");
  }
  return headers;
}

function deadlineOf(call: { getDeadline(): Date | number }): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

export function createIngestService(deps: IngestServiceDeps): UntypedServiceImplementation {
  const { forwarder, limits, stats } = deps;

  async function forward(
    stream: string,
    items: readonly ForwardItem[],
    metadata: Metadata,
    deadline?: number,
  ): Promise<ForwardOutcome> {
    stats.inFlight(1);
    try {
      return await forwarder.forward({
        stream,
        body: batchBody(items),
        records: items.length,
        headers: passThroughHeaders(metadata),
        ...(deadline === undefined ? {} : { deadline }),
      });
    } finally {
      stats.inFlight(-1);
    }
  }

  function count(acks: readonly AckMessage[]): Record<string, number> {
    const counts = { accepted: 0, duplicate: 0, rejected: 0 };
    for (const ack of acks) {
      stats.acked(ack.status);
      if (ack.status === "ACK_STATUS_ACCEPTED") counts.accepted++;
      else if (ack.status === "ACK_STATUS_DUPLICATE") counts.duplicate++;
      else counts.rejected++;
    }
    return counts;
  }

  async function ingest(
    call: ServerUnaryCall<IngestRequestMessage, IngestResponseMessage>,
    callback: sendUnaryData<IngestResponseMessage>,
  ): Promise<void> {
    const record = call.request.record;
    if (!record) {
      callback(
        callError(status.INVALID_ARGUMENT, {
          code: "INVALID_REQUEST",
          message: "record is required",
          path: "/record",
        }),
      );
      return;
    }
    const converted = toForwardItem(record, limits);
    let ack: AckMessage;
    if (!converted.ok) ack = rejectedAck(converted.error, record.clientId);
    else {
      const outcome = await forward(converted.item.stream, [converted.item], call.metadata, deadlineOf(call));
      if (outcome.kind === "refused") {
        deps.logger.info("call refused", {
          method: "Ingest",
          stream: converted.item.stream,
          code: outcome.refusal.code,
        });
        callback(callErrorFromRefusal(outcome.refusal));
        return;
      }
      ack = ackFromResult(outcome.results[0]!, converted.item, record.clientId, outcome.retryAfterSeconds);
    }
    deps.logger.debug("ingested", { method: "Ingest", records: 1, ...count([ack]) });
    if (ack.status === "ACK_STATUS_REJECTED") callback(callErrorFromAck(ack));
    else callback(null, { ack });
  }

  async function ingestBatch(
    call: ServerUnaryCall<IngestBatchRequestMessage, IngestBatchResponseMessage>,
    callback: sendUnaryData<IngestBatchResponseMessage>,
  ): Promise<void> {
    const plan = planBatch(call.request.records ?? [], limits, call.request.schemaVersion);
    if (isCallError(plan)) {
      callback(plan);
      return;
    }
    const outcome =
      plan.sent.length === 0
        ? undefined
        : await forward(
            plan.stream,
            plan.sent.map((s) => s.item),
            call.metadata,
            deadlineOf(call),
          );
    if (outcome?.kind === "refused") {
      deps.logger.info("call refused", {
        method: "IngestBatch",
        stream: plan.stream,
        code: outcome.refusal.code,
      });
      callback(callErrorFromRefusal(outcome.refusal));
      return;
    }
    const acks = batchAcks(plan, outcome);
    deps.logger.debug("ingested", { method: "IngestBatch", records: acks.length, ...count(acks) });
    callback(null, { acks });
  }

  function ingestStream(call: ServerDuplexStream<RecordMessage, AckMessage>): void {
    const log = deps.logger.child({ method: "IngestStream" });
    const started = Date.now();
    let records = 0;
    const session = new StreamSession(limits, {
      stats,
      send: (stream, items) => forward(stream, items, call.metadata),
      write: (ack) => call.write(ack),
      setReading: (reading) => {
        if (reading) call.resume();
        else call.pause();
      },
      finish: (refusal) => {
        log.info("stream finished", {
          records,
          ms: Date.now() - started,
          status: refusal ? status[refusal.grpcStatus] : "OK",
          ...(refusal ? { code: refusal.code } : {}),
        });
        if (refusal) call.emit("error", callErrorFromRefusal(refusal));
        else call.end();
      },
    });
    deps.sessions.add(session);
    void session.finished.then(() => deps.sessions.delete(session));
    call.on("data", (record: RecordMessage) => {
      records++;
      session.push(record);
    });
    call.on("end", () => session.end());
    call.on("drain", () => session.drained());
    call.on("cancelled", () => {
      log.info("stream cancelled", { records, ms: Date.now() - started });
      session.cancel();
    });
    // A failed write (the client went away) surfaces as cancelled; nothing to add here.
    call.on("error", () => {});
  }

  /** A bug must fail its call, not the process. */
  function guarded<Req, Res>(
    method: string,
    handler: (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => Promise<void>,
  ) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      if ((call.request as unknown) instanceof MalformedMessage) {
        const reason = (call.request as unknown as MalformedMessage).reason;
        callback(callError(status.INVALID_ARGUMENT, { code: "INVALID_REQUEST", message: reason }));
        return;
      }
      handler(call, callback).catch((err: unknown) => {
        deps.logger.error("call failed", { method, error: (err as Error).name });
        callback(callError(status.INTERNAL, { code: "INTERNAL", message: "internal error" }));
      });
    };
  }

  return {
    Ingest: guarded("Ingest", ingest),
    IngestBatch: guarded("IngestBatch", ingestBatch),
    IngestStream: ingestStream,
  } as UntypedServiceImplementation;
}
