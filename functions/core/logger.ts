/**
 * Structured JSON logs, one object per line, written by Powertools for AWS Lambda's Logger behind
 * Sluice's small `Logger` interface. Callers pass counts and identifiers only; the redaction here
 * is the net under that rule: secrets and payloads are replaced before a line is written.
 */
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line; the parent is unchanged. */
  child(fields: LogFields): Logger;
}

/** What replaces a redacted value. */
export const REDACTED = "[REDACTED]";

/**
 * Keys whose values are never written, compared lowercase without `-` and `_`: credentials (the
 * headers Sluice reads them from included), and payloads as the events carry them (API Gateway's
 * `body`, Kinesis' and Firehose's `data`, the ingest API's `records`). `responseurl` is
 * CloudFormation's pre-signed URL, a credential in itself.
 */
const SECRET_KEYS = new Set([
  "authorization",
  "proxyauthorization",
  "xapikey",
  "apikey",
  "cookie",
  "setcookie",
  "password",
  "secret",
  "secrets",
  "token",
  "credential",
  "credentials",
  "idempotencykey",
  "responseurl",
  "body",
  "rawbody",
  "data",
  "payload",
  "raw",
  "records",
]);
const SECRET_SUFFIXES = ["token", "secret", "password", "apikey"];

/** Credentials by their shape, wherever they appear in a string (a message quoting a header). */
const SECRET_SHAPES: readonly [RegExp, string][] = [
  [/\bsk_[A-Za-z0-9_-]{16,}/g, `sk_${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`],
];

function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, "");
  return SECRET_KEYS.has(k) || SECRET_SUFFIXES.some((s) => k.endsWith(s));
}

/** Removes credential-shaped substrings from a string. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  return out;
}

/**
 * The JSON replacer every log line goes through (Powertools calls it for each key and value,
 * nested ones included, before its own rules): secret keys lose their values, strings lose
 * credential-shaped parts. Numbers and booleans stay: `records: 500` is a count, not a payload.
 */
export function redactSecrets(key: string, value: unknown): unknown {
  if (typeof value === "string") return isSecretKey(key) ? REDACTED : scrubSecrets(value);
  if (typeof value === "object" && value !== null && key !== "" && isSecretKey(key)) return REDACTED;
  return value;
}

/**
 * Resolves the dotted paths Sluice's correlation ids sit at (`requestContext.requestId`,
 * `Records[0].kinesis.sequenceNumber`): all the JMESPath Powertools would otherwise need its
 * jmespath package for.
 */
export function fieldAt(path: string, data: unknown): unknown {
  let value = data;
  for (const part of path.split(/\.|(?=\[)/)) {
    if (value === null || typeof value !== "object") return undefined;
    const index = /^\[(\d+)\]$/.exec(part);
    value = index ? (value as unknown[])[Number(index[1])] : (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A Powertools Logger with Sluice's redaction, for a handler to pass to `injectLambdaContext`. */
export function createPowertoolsLogger(service: string, level: LogLevel = "info"): PowertoolsLogger {
  return new PowertoolsLogger({
    serviceName: service,
    logLevel: level,
    jsonReplacerFn: redactSecrets,
    correlationIdSearchFn: fieldAt,
  });
}

/** Powertools drops these keys with a warning; Sluice's fields keep their value under another name. */
const RESERVED: Readonly<Record<string, string>> = {
  message: "detail",
  level: "_level",
  service: "_service",
  timestamp: "_timestamp",
  sampling_rate: "_sampling_rate",
};

function withoutReserved(fields: LogFields): LogFields {
  let out: Record<string, LogFields[string]> | undefined;
  for (const key in fields) {
    const renamed = RESERVED[key];
    if (renamed === undefined) continue;
    out ??= { ...fields };
    out[renamed] = out[key];
    delete out[key];
  }
  return out ?? fields;
}

/**
 * Sluice's `Logger` over a Powertools Logger. Children hold their fields themselves instead of
 * appending keys to the shared Powertools instance, so concurrent requests in one process (the
 * local runner) never see each other's fields; what the Lambda middleware adds (request id,
 * correlation id, cold start) is on the shared instance and in every line.
 */
export function loggerOver(powertools: PowertoolsLogger, base: LogFields = {}): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields) =>
    powertools[level](message, withoutReserved(fields === undefined ? base : { ...base, ...fields }));
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => loggerOver(powertools, { ...base, ...fields }),
  };
}

export function createLogger(service: string, level: LogLevel = "info"): Logger {
  return loggerOver(createPowertoolsLogger(service, level));
}

/** A logger that drops everything, for tests and quiet local runs. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
