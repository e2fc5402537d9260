/** Why an encrypted payload could not be read, as values the batcher files under errors/. */

/**
 * The payload's ciphertext, tag, IV or what the AAD binds (stream, schema, record id) is not what
 * was encrypted, or `enc` is malformed. No retry changes it.
 */
export class PayloadDecryptFailed extends Error {
  override readonly name = "PayloadDecryptFailed";
  readonly code = "DECRYPT_FAILED";
}

/**
 * KMS refused the data key (for good, as far as this record is concerned): a wrong or missing
 * encryption context, a disabled or foreign key, no permission, a blob that is not KMS's.
 * `kmsError` is KMS's own error name.
 */
export class DataKeyUnavailable extends Error {
  override readonly name = "DataKeyUnavailable";
  readonly code = "KEY_UNAVAILABLE";
  constructor(
    readonly kmsError: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * KMS errors that are KMS refusing the request itself; anything else (throttling, internal
 * errors, timeouts, the network) may pass and is retried, never filed.
 */
const REFUSALS = new Set([
  "AccessDeniedException",
  "DisabledException",
  "IncorrectKeyException",
  "InvalidCiphertextException",
  "InvalidGrantTokenException",
  "InvalidKeyUsageException",
  "KMSInvalidStateException",
  "NotFoundException",
  "ValidationException",
]);

/** Whether `err` is KMS refusing for good (see `DataKeyUnavailable`). */
export function isKmsRefusal(err: unknown): boolean {
  return REFUSALS.has((err as { name?: string }).name ?? "");
}

/** `err` as `DataKeyUnavailable` when KMS refused; otherwise `err` itself, to be retried. */
export function kmsFailure(err: unknown, what: string): unknown {
  if (!isKmsRefusal(err)) return err;
  const e = err as Error;
  return new DataKeyUnavailable(e.name, `KMS refused ${what}: ${e.name}: ${(e.message ?? "").slice(0, 200)}`);
}
