/**
 * The KMS encryption context of payload data keys, shared by the functions that ask KMS and the
 * CDK grants that condition on it, so the two cannot drift apart.
 */

/** Encryption context key naming the app; `kms:EncryptionContext:sluice:app` in IAM conditions. */
export const CONTEXT_APP = "sluice:app";
/** Encryption context key naming the stream; `kms:EncryptionContext:sluice:stream` in IAM conditions. */
export const CONTEXT_STREAM = "sluice:stream";

/**
 * The context a stream's data keys are generated and decrypted with. KMS binds it to the
 * encrypted key, so a data key made for one stream cannot be decrypted as another's, and key
 * policies can grant per stream.
 */
export function payloadEncryptionContext(app: string, stream: string): Record<string, string> {
  return { [CONTEXT_APP]: app, [CONTEXT_STREAM]: stream };
}
