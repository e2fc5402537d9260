/**
 * Errors are values a client can act on: a stable code, the HTTP status it maps to,
 * the path at fault (a JSON pointer) when there is one, and a human sentence.
 */
export type ErrorCode =
  | "INVALID_JSON"
  | "INVALID_REQUEST"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "EMPTY_BODY"
  | "BODY_TOO_LARGE"
  | "TOO_MANY_RECORDS"
  | "RECORD_TOO_LARGE"
  | "RECORD_TOO_COMPLEX"
  /** A number too large for a double (`1e400`): JSON.parse would read it as Infinity. */
  | "NUMBER_NOT_FINITE"
  | "UNKNOWN_STREAM"
  | "INVALID_STREAM_NAME"
  | "SCHEMA_VIOLATION"
  | "SCHEMA_NOT_FOUND"
  | "INVALID_SCHEMA"
  | "INVALID_IDEMPOTENCY_KEY"
  | "INVALID_EVENT_TIME"
  | "IN_PROGRESS"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "THROTTLED"
  | "UNAVAILABLE"
  | "INTERNAL";

export interface ErrorDetail {
  readonly code: ErrorCode;
  readonly message: string;
  readonly path?: string;
}

export class SluiceError extends Error {
  override readonly name = "SluiceError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly path?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  toDetail(): ErrorDetail {
    return this.path === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, path: this.path };
  }
}
