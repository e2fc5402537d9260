/**
 * The refusals authentication produces. Messages are fixed sentences chosen here: they never
 * quote a header, key, token or claim value, so error bodies and logs cannot leak a credential.
 */
import { SluiceError } from "../errors.ts";

export const REALM = 'Bearer realm="sluice"';

/** 401 for absent credentials: RFC 6750 sends the challenge without an error code. */
export function missingCredentials(): SluiceError {
  return new SluiceError(
    "UNAUTHENTICATED",
    "missing credentials: send Authorization: Bearer <token> or x-api-key: <key>",
    401,
    undefined,
    { "www-authenticate": REALM },
  );
}

/** 401 for credentials that were sent but are not good (malformed, unknown, expired, ...). */
export function invalidCredentials(message: string): SluiceError {
  // error_description may not hold quotes or backslashes (RFC 6750 section 3).
  const description = message.replace(/["\\]/g, "'");
  return new SluiceError("UNAUTHENTICATED", message, 401, undefined, {
    "www-authenticate": `${REALM}, error="invalid_token", error_description="${description}"`,
  });
}

/** 503 when what checks credentials is down: the caller's credential may well be fine. */
export function checkUnavailable(message: string): SluiceError {
  return new SluiceError("UNAVAILABLE", message, 503, undefined, { "retry-after": "1" });
}
