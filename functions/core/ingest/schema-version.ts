/**
 * Which schema version a record is validated against. Producers migrate at different speeds, so
 * a producer may name the version it writes: the `Sluice-Schema-Version` header for a whole
 * request, a batch item's `schemaVersion`, or a CloudEvent's `dataschema` (a per-record value
 * wins over the header). A record that names none gets its subject's latest version, as always.
 *
 * Naming a version is per record, so a version the subject does not have rejects only the
 * records that name it; the lookups are made once per distinct version per request.
 */
import { type ErrorDetail, SluiceError } from "../errors.ts";
import type { StreamRuntime } from "../runtime-config.ts";
import type { CompiledSchema, ValidatorCache } from "../validators.ts";
import type { ParsedRecord } from "./request.ts";

/** The schema version a producer named for a record, and where it named it. */
export interface SchemaChoice {
  readonly version: number;
  /** The subject named with it (a CloudEvent's `dataschema`); the stream's own when absent. */
  readonly subject?: string;
  /** JSON pointer to where the version came from, for the record's errors. */
  readonly path: string;
}

/** Where a version named by the header is reported, as the Idempotency-Key header is. */
export const VERSION_HEADER_PATH = "/headers/sluice-schema-version";

export const DATASCHEMA_FORMS =
  "https://{host}/v1/schemas/{subject}/versions/{n} or urn:sluice:schema:{subject}:{n}";

export function isErrorDetail<T extends object>(value: T | ErrorDetail): value is ErrorDetail {
  return "code" in value;
}

/** Versions are positive integers; the bound only keeps them exact as JSON numbers. */
function isVersion(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1;
}

const DIGITS = /^[1-9][0-9]{0,15}$/;

/** A version written as text (a header, a URI segment), or NaN. */
function versionText(text: string): number {
  return DIGITS.test(text) ? Number(text) : Number.NaN;
}

/**
 * The `Sluice-Schema-Version` header: the version of every record of the request that names
 * none of its own. Throws for a value that is not a version, which concerns the whole request.
 */
export function versionFromHeader(value: string | undefined): SchemaChoice | undefined {
  if (value === undefined) return undefined;
  const version = versionText(value.trim());
  if (!isVersion(version)) {
    throw new SluiceError(
      "INVALID_REQUEST",
      "the Sluice-Schema-Version header must be a positive integer: a version of the stream's schema",
      400,
      VERSION_HEADER_PATH,
    );
  }
  return { version, path: VERSION_HEADER_PATH };
}

/** A batch item's `schemaVersion` (a JSON number), found at `path`. */
export function versionFromField(value: unknown, path: string): SchemaChoice | ErrorDetail {
  if (typeof value === "number" && isVersion(value)) return { version: value, path };
  return { code: "INVALID_REQUEST", message: "schemaVersion must be a positive integer", path };
}

const URN = /^urn:sluice:schema:([^:]+):([^:]+)$/i;
const REGISTRY_PATH = /\/v1\/schemas\/([^/]+)\/versions\/([^/]+)$/;

/**
 * The subject and version a CloudEvent's `dataschema` names, found at `path`: the URL of the
 * registry's route for that version on any host (the producer may know the registry by another
 * name than ingest does), or Sluice's URN for it. Any other form is refused rather than ignored,
 * so a producer never believes it chose a version it did not.
 */
export function versionFromDataschema(value: unknown, path: string): SchemaChoice | ErrorDetail {
  const named = typeof value === "string" ? subjectAndVersion(value) : undefined;
  if (named === undefined || !isVersion(named.version)) {
    return {
      code: "INVALID_DATASCHEMA",
      message: `dataschema must be ${DATASCHEMA_FORMS}, with n a positive integer`,
      path,
    };
  }
  return { version: named.version, subject: named.subject, path };
}

function subjectAndVersion(uri: string): { subject: string; version: number } | undefined {
  const urn = URN.exec(uri);
  if (urn) return { subject: urn[1]!, version: versionText(urn[2]!) };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" || url.search !== "" || url.hash !== "") return undefined;
  const route = REGISTRY_PATH.exec(url.pathname);
  if (!route) return undefined;
  let subject: string;
  try {
    subject = decodeURIComponent(route[1]!);
  } catch {
    return undefined;
  }
  return { subject, version: versionText(route[2]!) };
}

/** The subject's latest version; a stream without one cannot take records at all. */
export async function currentSchema(
  validators: Pick<ValidatorCache, "latest">,
  stream: StreamRuntime,
): Promise<CompiledSchema> {
  const schema = await validators.latest(stream.subject);
  if (!schema) {
    throw new SluiceError(
      "SCHEMA_NOT_FOUND",
      `no schema is registered for stream ${stream.name} (${stream.subject})`,
      503,
    );
  }
  return schema;
}

/** The schemas the records of one request are validated against. */
export interface SchemaSelection {
  /** For records that name no version; undefined when no record of the request needs it. */
  readonly latest: CompiledSchema | undefined;
  /** The schema a record's choice selects, or the error that rejects that record. */
  named(choice: SchemaChoice): CompiledSchema | ErrorDetail;
}

/**
 * Looks up, once each, the versions `records` need. The latest is looked up only when a record
 * names no version, so a request whose records all name theirs does not depend on it.
 */
export async function selectSchemas(
  validators: Pick<ValidatorCache, "latest" | "get">,
  stream: StreamRuntime,
  records: readonly ParsedRecord[],
): Promise<SchemaSelection> {
  let needsLatest = false;
  const versions = new Set<number>();
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    if (record.error !== undefined) continue;
    const choice = record.schema;
    if (choice === undefined) needsLatest = true;
    // A choice of another subject is rejected without a lookup.
    else if (choice.subject === undefined || choice.subject === stream.subject) versions.add(choice.version);
  }
  const named = [...versions];
  const [latest, ...found] = await Promise.all([
    needsLatest ? currentSchema(validators, stream) : undefined,
    ...named.map((v) => validators.get(stream.subject, v)),
  ]);
  const byVersion = new Map<number, CompiledSchema | undefined>();
  for (let i = 0; i < named.length; i++) byVersion.set(named[i]!, found[i]);
  return {
    latest,
    named(choice) {
      if (choice.subject !== undefined && choice.subject !== stream.subject) {
        return {
          code: "SCHEMA_MISMATCH",
          message: `dataschema names schema ${choice.subject}; stream ${stream.name} takes ${stream.subject}`,
          path: choice.path,
        };
      }
      return (
        byVersion.get(choice.version) ?? {
          code: "SCHEMA_VERSION_NOT_FOUND",
          message: `schema ${stream.subject} has no version ${choice.version}`,
          path: choice.path,
        }
      );
    },
  };
}
