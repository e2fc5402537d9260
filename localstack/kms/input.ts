/** TEST INFRASTRUCTURE ONLY: reading and checking the KMS emulator's request fields as KMS does. */
import type { JsonObject } from "../aws-json-server.ts";
import { KmsError } from "./blob.ts";

export function optionalString(input: JsonObject, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new KmsError("ValidationException", `${field} must be a string`);
  return value;
}

export function requiredString(input: JsonObject, field: string): string {
  const value = optionalString(input, field);
  if (value === undefined || value === "") {
    throw new KmsError("ValidationException", `1 validation error detected: ${field} must not be null`);
  }
  return value;
}

export function blob(input: JsonObject, field: string, maxBytes: number): Buffer {
  const encoded = requiredString(input, field);
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.length === 0 || bytes.length > maxBytes) {
    throw new KmsError(
      "ValidationException",
      `1 validation error detected: ${field} length must be between 1 and ${maxBytes} bytes`,
    );
  }
  return bytes;
}

export function encryptionContext(input: JsonObject): Buffer {
  const value = input["EncryptionContext"];
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new KmsError("ValidationException", "EncryptionContext must be a map of strings");
  }
  const entries = Object.entries(value as JsonObject);
  for (const [, v] of entries) {
    if (typeof v !== "string")
      throw new KmsError("ValidationException", "EncryptionContext values must be strings");
  }
  // Order-independent, like KMS: {a,b} and {b,a} are the same context.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), "utf8");
}

export function checkAlgorithm(input: JsonObject): void {
  const algorithm = optionalString(input, "EncryptionAlgorithm");
  if (algorithm !== undefined && algorithm !== "SYMMETRIC_DEFAULT") {
    throw new KmsError("InvalidKeyUsageException", `Only SYMMETRIC_DEFAULT is supported, got ${algorithm}`);
  }
}

export function paginate(items: readonly JsonObject[], input: JsonObject, field: string): JsonObject {
  const limit = typeof input["Limit"] === "number" ? Math.max(1, Math.min(1000, input["Limit"])) : 100;
  const marker = optionalString(input, "Marker");
  const start = marker === undefined ? 0 : Number.parseInt(marker, 10) || 0;
  const page = items.slice(start, start + limit);
  const next = start + page.length;
  return next < items.length
    ? { [field]: page, Truncated: true, NextMarker: String(next) }
    : { [field]: page, Truncated: false };
}
