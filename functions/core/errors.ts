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
  /** A record names a schema version its stream's subject does not have (per record). */
  | "SCHEMA_VERSION_NOT_FOUND"
  /** A CloudEvent's `dataschema` names another subject than its stream's. */
  | "SCHEMA_MISMATCH"
  /** A CloudEvent's `dataschema` is in none of the forms ingest reads a version from. */
  | "INVALID_DATASCHEMA"
  | "INVALID_SCHEMA"
  /** The subject's compatibility mode forbids the version (409, with every incompatibility). */
  | "SCHEMA_INCOMPATIBLE"
  | "INVALID_IDEMPOTENCY_KEY"
  | "INVALID_EVENT_TIME"
  | "IN_PROGRESS"
  /** The stream is paused: nothing is accepted until it is resumed (409). */
  | "STREAM_PAUSED"
  /** The stream's lifecycle state does not allow the change asked for (409, with the state). */
  | "INVALID_STREAM_STATE"
  /** A stream of that name is declared or was created already (409). */
  | "STREAM_EXISTS"
  /** The manifest has no `runtimeStreams`, so streams cannot be created at run time (409). */
  | "RUNTIME_STREAMS_DISABLED"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "THROTTLED"
  | "UNAVAILABLE"
  | "INTERNAL"
  /** A read's `from`, `to`, `limit`, `fields` or `key` is malformed (functions/query). */
  | "INVALID_QUERY"
  /** A read's cursor is not one this API issued, or belongs to another query. */
  | "INVALID_CURSOR"
  /** A read's cursor names an Iceberg snapshot that expiry has since removed (410). */
  | "CURSOR_EXPIRED"
  /** A read would pass the scanned-bytes or time limit (413, naming the limit). */
  | "QUERY_TOO_LARGE"
  /** An import request's body is malformed: its field at fault in the path (400). */
  | "INVALID_IMPORT"
  /** An import's source is outside the buckets and prefix imports may read (400). */
  | "SOURCE_NOT_ALLOWED"
  /** An import's object or prefix holds nothing to import (the job fails with it). */
  | "SOURCE_NOT_FOUND"
  /** An import's object changed (another ETag) after the job was planned. */
  | "SOURCE_CHANGED"
  /** A source line or row that cannot be read as a record (bad CSV, a JSON array that is not one). */
  | "UNREADABLE_RECORD";

/** One of several things wrong, each at its own place. */
export interface ErrorPart {
  readonly path: string;
  readonly message: string;
}

export interface ErrorDetail {
  readonly code: ErrorCode;
  readonly message: string;
  readonly path?: string;
  /** Every problem, for errors that can have several; `path` and `message` are the first. */
  readonly details?: readonly ErrorPart[];
}

export class SluiceError extends Error {
  override readonly name = "SluiceError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly path?: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly details?: readonly ErrorPart[],
  ) {
    super(message);
  }

  toDetail(): ErrorDetail {
    return {
      code: this.code,
      message: this.message,
      ...(this.path === undefined ? {} : { path: this.path }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}
