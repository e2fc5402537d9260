/** The body of `POST /v1/keys`, checked into a `NewApiKey` with a path for each mistake. */
import { SluiceError } from "../errors.ts";
import { bodyObject, noOtherKeys } from "../schema-registration.ts";
import type { NewApiKey } from "./api-keys.ts";
import { isRole, ROLES } from "./types.ts";

/**
 * `streams` is required ("*" or a list) so a key never gets every stream by omission; names the
 * installation does not know are refused, since a key for a typo would silently write nothing.
 */
export function parseNewApiKey(body: Buffer | string, knownStreams: ReadonlySet<string>): NewApiKey {
  const { name, role, streams, expiresAt, ...rest } = bodyObject(body, "name, role and streams");
  noOtherKeys(rest);
  if (typeof name !== "string") throw bad("name is a string of 1-128 characters", "/name");
  if (!isRole(role)) throw bad(`role is one of ${ROLES.join(", ")}`, "/role");
  if (expiresAt !== undefined && typeof expiresAt !== "string") {
    throw bad("expiresAt is an ISO-8601 date-time string", "/expiresAt");
  }
  let allowed: NewApiKey["streams"];
  if (streams === "*") allowed = "*";
  else if (Array.isArray(streams) && streams.length > 0) {
    streams.forEach((s, i) => {
      if (typeof s !== "string") throw bad("each stream is a string", `/streams/${i}`);
      if (s !== "*" && !knownStreams.has(s)) {
        throw new SluiceError(
          "UNKNOWN_STREAM",
          `stream ${JSON.stringify(s)} does not exist`,
          400,
          `/streams/${i}`,
        );
      }
    });
    allowed = streams as string[];
  } else throw bad('streams is "*" or a non-empty list of stream names', "/streams");
  return { name, role, streams: allowed, ...(expiresAt === undefined ? {} : { expiresAt }) };
}

const bad = (message: string, path: string) => new SluiceError("INVALID_REQUEST", message, 400, path);
