/** How `sluice send` puts a batch on a stream: the HTTPS API, or sluice.v1.IngestService over gRPC. */
import * as grpc from "@grpc/grpc-js";
import { INGEST_SERVICE, loadProtos, serviceDefinition } from "../../functions/grpc-proxy/protos.ts";
import type { OutgoingRecord } from "./batches.ts";

export interface RecordOutcome {
  readonly status: "accepted" | "duplicate" | "rejected";
  readonly error?: { readonly code: string; readonly message: string; readonly path?: string };
  /** Seconds the server asked to wait before this record is sent again. */
  readonly retryAfterSeconds?: number;
}

/**
 * A batch's answer: one outcome per record in order, or none when the request as a whole failed
 * (`retryable` then says whether sending it again may work, `retryAfterMs` when to).
 */
export interface BatchOutcome {
  readonly status: number | string;
  readonly results?: readonly RecordOutcome[];
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly message?: string;
}

export interface Transport {
  send(stream: string, records: readonly OutgoingRecord[]): Promise<BatchOutcome>;
  close(): void;
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const RETRY_STATUSES = new Set([409, 429, 502, 503, 504]);

export function httpTransport(url: string, key: string | undefined): Transport {
  const base = url.replace(/\/+$/, "");
  return {
    async send(stream, records) {
      const body = `{"records":[${records.map((r) => JSON.stringify({ data: r.data, key: r.key })).join(",")}]}`;
      let res: Response;
      try {
        res = await fetch(`${base}/v1/streams/${encodeURIComponent(stream)}/records`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) },
          body,
        });
      } catch (err) {
        // No answer at all (refused, reset): the records may or may not have landed; their keys make a resend safe.
        return {
          status: "network",
          retryable: true,
          message: (err as Error).cause ? String((err as Error).cause) : (err as Error).message,
        };
      }
      const text = await res.text();
      let parsed: { results?: RecordOutcome[]; error?: { code: string; message: string } } | undefined;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const wait = retryAfterMs(res.headers.get("retry-after"));
      const results = parsed?.results?.length === records.length ? parsed.results : undefined;
      return {
        status: res.status,
        ...(results ? { results } : {}),
        retryable: RETRY_STATUSES.has(res.status),
        ...(wait === undefined ? {} : { retryAfterMs: wait }),
        message: parsed?.error ? `${parsed.error.code}: ${parsed.error.message}` : text.slice(0, 200),
      };
    },
    close() {},
  };
}

interface Ack {
  status: string;
  errorCode?: string;
  errorMessage?: string;
  errorPath?: string;
  retryAfterSeconds?: number;
}

const ACK_STATUS: Record<string, RecordOutcome["status"]> = {
  ACK_STATUS_ACCEPTED: "accepted",
  ACK_STATUS_DUPLICATE: "duplicate",
  ACK_STATUS_REJECTED: "rejected",
};

const GRPC_RETRYABLE = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
]);

export function grpcTransport(address: string, key: string | undefined): Transport {
  const Client = grpc.makeGenericClientConstructor(
    serviceDefinition(loadProtos(), INGEST_SERVICE),
    "IngestService",
  );
  const client = new Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (key) metadata.set("x-api-key", key);
  return {
    send(stream, records) {
      const request = {
        records: records.map((r) => ({
          stream,
          json: Buffer.from(JSON.stringify(r.data)),
          idempotencyKey: r.key,
        })),
      };
      return new Promise((resolve) => {
        (client as unknown as Record<string, (...a: unknown[]) => void>).IngestBatch!(
          request,
          metadata,
          { deadline: Date.now() + 60_000 },
          (err: grpc.ServiceError | null, value?: { acks?: Ack[] }) => {
            if (err) {
              const pushback = err.metadata?.get("grpc-retry-pushback-ms")[0];
              resolve({
                status: grpc.status[err.code] ?? String(err.code),
                retryable: GRPC_RETRYABLE.has(err.code),
                ...(pushback === undefined ? {} : { retryAfterMs: Number(pushback) }),
                message: err.details,
              });
              return;
            }
            const acks = value?.acks ?? [];
            resolve({
              status: "OK",
              retryable: false,
              ...(acks.length === records.length
                ? {
                    results: acks.map((a) => ({
                      status: ACK_STATUS[a.status] ?? "rejected",
                      ...(a.errorCode
                        ? {
                            error: {
                              code: a.errorCode,
                              message: a.errorMessage ?? "",
                              ...(a.errorPath ? { path: a.errorPath } : {}),
                            },
                          }
                        : {}),
                      ...(a.retryAfterSeconds ? { retryAfterSeconds: a.retryAfterSeconds } : {}),
                    })),
                  }
                : {}),
            });
          },
        );
      });
    },
    close() {
      client.close();
    },
  };
}
