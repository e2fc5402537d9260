import { Transform, type TransformCallback } from "node:stream";

/** Longest chunk header we accept: hex size plus `;chunk-signature=<64 hex>`. */
const MAX_HEADER_BYTES = 4096;

type State = "header" | "data" | "data-crlf" | "trailer";

/** The client's body is malformed (a 400), as opposed to the backend failing. */
export class AwsChunkedError extends Error {}

/**
 * Strips `Content-Encoding: aws-chunked` framing (`<hex size>[;chunk-signature=..]\r\n<data>\r\n`
 * ... `0\r\n<trailers>\r\n\r\n`) from an S3 upload body. Real S3 does this server-side; s3rver
 * doesn't and would store the framing as object bytes. Signatures and trailing checksums are
 * ignored, as s3rver ignores SigV4 signatures altogether.
 */
export class AwsChunkedDecoder extends Transform {
  private state: State = "header";
  private pending = Buffer.alloc(0);
  private remaining = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let input = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    try {
      while (input.length > 0) {
        if (this.state === "data") {
          const take = Math.min(this.remaining, input.length);
          this.push(input.subarray(0, take));
          input = input.subarray(take);
          this.remaining -= take;
          if (this.remaining === 0) this.state = "data-crlf";
        } else if (this.state === "data-crlf") {
          if (input.length < 2) break;
          if (input[0] !== 0x0d || input[1] !== 0x0a)
            throw new AwsChunkedError("aws-chunked: missing CRLF after chunk data");
          input = input.subarray(2);
          this.state = "header";
        } else if (this.state === "header") {
          const end = input.indexOf("\r\n");
          if (end < 0) {
            if (input.length > MAX_HEADER_BYTES)
              throw new AwsChunkedError("aws-chunked: chunk header too long");
            break;
          }
          const sizeText = input.subarray(0, end).toString("latin1").split(";")[0]?.trim() ?? "";
          const size = Number.parseInt(sizeText, 16);
          if (!/^[0-9a-fA-F]+$/.test(sizeText) || !Number.isSafeInteger(size)) {
            throw new AwsChunkedError(`aws-chunked: bad chunk size "${sizeText}"`);
          }
          input = input.subarray(end + 2);
          this.remaining = size;
          this.state = size === 0 ? "trailer" : "data";
        } else {
          // Trailing checksum headers after the last chunk: not part of the object.
          input = Buffer.alloc(0);
        }
      }
      if (input.length > 0) this.pending = Buffer.from(input);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== "trailer") {
      callback(new AwsChunkedError("aws-chunked: body ended before the final zero-length chunk"));
      return;
    }
    callback();
  }
}

/** True when an S3 request body carries aws-chunked framing. */
export function isAwsChunked(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const encoding = headers["content-encoding"];
  const sha = headers["x-amz-content-sha256"];
  const encodings = (Array.isArray(encoding) ? encoding.join(",") : (encoding ?? "")).toLowerCase();
  return (
    encodings.split(",").some((e) => e.trim() === "aws-chunked") ||
    (typeof sha === "string" && sha.startsWith("STREAMING-"))
  );
}

/**
 * Rewrites headers for the de-framed body: the decoded length becomes Content-Length, and the
 * framing-only headers go, so the backend treats it as a plain upload.
 */
export function decodedHeaders(headers: Record<string, string | string[] | undefined>): void {
  const decodedLength = headers["x-amz-decoded-content-length"];
  if (typeof decodedLength === "string" && /^\d+$/.test(decodedLength)) {
    headers["content-length"] = decodedLength;
  } else {
    delete headers["content-length"];
  }
  const encoding = headers["content-encoding"];
  const rest = (Array.isArray(encoding) ? encoding.join(",") : (encoding ?? ""))
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "" && e.toLowerCase() !== "aws-chunked");
  if (rest.length > 0) headers["content-encoding"] = rest.join(",");
  else delete headers["content-encoding"];
  headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
  delete headers["x-amz-decoded-content-length"];
  delete headers["x-amz-trailer"];
}
