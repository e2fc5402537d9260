/** Full-jitter exponential backoff (the AWS architecture blog's variant). */
export interface BackoffPolicy {
  readonly attempts: number;
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { attempts: 6, baseMs: 25, capMs: 1_000 };

export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * Math.min(policy.capMs, policy.baseMs * 2 ** attempt));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `fn` while `retryable(err)` holds, up to the policy's attempts. */
export async function withRetries<T>(
  policy: BackoffPolicy,
  retryable: (err: unknown) => boolean,
  fn: (attempt: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= policy.attempts || !retryable(err)) throw err;
      await sleep(backoffDelay(policy, attempt));
    }
  }
}

const TRANSIENT = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "InternalServerError",
  "InternalFailure",
  "SlowDown",
  "RequestTimeout",
  "KMSInternalException",
  "KMSInvalidStateException",
  "TransactionConflictException",
  "LimitExceededException",
]);

/** Errors worth retrying: throttles, 5xx, and network failures that never got an answer. */
export function isTransient(err: unknown): boolean {
  const e = err as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
  };
  if (e.$retryable) return true;
  if (e.name && TRANSIENT.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  return ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "TimeoutError"].includes(
    e.code ?? e.name ?? "",
  );
}
