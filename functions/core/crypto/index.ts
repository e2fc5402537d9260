/** Payload encryption (`encryption: payload`): AES-256-GCM per record under KMS data keys. */
export { CONTEXT_APP, CONTEXT_STREAM, payloadEncryptionContext } from "./context.ts";
export { DataKeyUnavailable, isKmsRefusal, PayloadDecryptFailed } from "./errors.ts";
export { DATA_KEY_BOUNDS, DataKeyCache, type DataKeyCacheOptions } from "./key-cache.ts";
export { DataKeyOpener, type DataKeyOpenerOptions } from "./key-opener.ts";
export {
  IV_BYTES,
  openPayload,
  payloadAad,
  payloadSealer,
  sealPayload,
  TAG_BYTES,
} from "./payload-cipher.ts";
export type * from "./types.ts";
