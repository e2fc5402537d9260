/**
 * Readiness of what ingest depends on, each probed with the cheapest call its role may make,
 * in parallel and bounded by a timeout, so the health route answers fast even when one is down.
 * `ReadinessCache` keeps one answer per container for a few seconds: DescribeStreamSummary
 * shares an account-wide control-plane quota, so the health route must not probe per request.
 */
import { DescribeStreamSummaryCommand } from "@aws-sdk/client-kinesis";
import { DescribeKeyCommand } from "@aws-sdk/client-kms";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { AwsClients } from "./aws-clients.ts";

export interface DependencyCheck {
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Error name only: messages can carry resource names an anonymous caller need not see. */
  readonly error?: string;
}

export interface Readiness {
  readonly status: "ok" | "degraded";
  /** When the probes ran (ISO 8601): a cached answer is at most the cache's TTL old. */
  readonly checkedAt: string;
  readonly checks: {
    readonly kinesis: DependencyCheck;
    readonly dynamodb: DependencyCheck;
    readonly kms: DependencyCheck;
  };
}

export interface ReadinessTargets {
  readonly eventStream: string;
  readonly schemasTable: string;
  readonly kmsKeyId: string;
}

async function probe(call: () => Promise<unknown>, timeoutMs: number): Promise<DependencyCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      call(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error("timeout"), { name: "Timeout" })), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: (err as Error).name };
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(
  clients: Pick<AwsClients, "kinesis" | "dynamo" | "kms">,
  targets: ReadinessTargets,
  timeoutMs = 2_000,
): Promise<Readiness> {
  const [kinesis, dynamodb, kms] = await Promise.all([
    probe(
      () => clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: targets.eventStream })),
      timeoutMs,
    ),
    probe(
      () =>
        clients.dynamo.send(
          new GetCommand({ TableName: targets.schemasTable, Key: { subject: "_health", version: 0 } }),
        ),
      timeoutMs,
    ),
    probe(() => clients.kms.send(new DescribeKeyCommand({ KeyId: targets.kmsKeyId })), timeoutMs),
  ]);
  return {
    status: kinesis.ok && dynamodb.ok && kms.ok ? "ok" : "degraded",
    checkedAt: new Date().toISOString(),
    checks: { kinesis, dynamodb, kms },
  };
}

/**
 * One readiness probe per window: callers within `ttlMs` of the last probe get its answer, and
 * callers arriving while a probe runs share it, so a burst of health checks costs one probe.
 */
export class ReadinessCache {
  private last: { readonly at: number; readonly value: Readiness } | undefined;
  private running: Promise<Readiness> | undefined;

  constructor(
    private readonly probe: () => Promise<Readiness>,
    private readonly ttlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<Readiness> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return Promise.resolve(this.last.value);
    if (this.running) return this.running;
    const running = this.probe().then(
      (value) => {
        this.last = { at: this.now(), value };
        this.running = undefined;
        return value;
      },
      (err: unknown) => {
        this.running = undefined;
        throw err;
      },
    );
    this.running = running;
    return running;
  }
}
