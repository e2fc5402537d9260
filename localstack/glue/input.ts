/** TEST INFRASTRUCTURE ONLY: reads Glue requests (input rules, paging), so bad input fails here as it would on AWS. */
import { AwsJsonError, type JsonObject } from "../aws-json-server.ts";

export const ACCOUNT_ID = "000000000000";

/** A Glue error: `{ "__type": name, "Message": ... }`, HTTP 400 unless said. */
export class GlueError extends AwsJsonError {}

export function invalidInput(message: string): GlueError {
  return new GlueError("InvalidInputException", message);
}

/** Glue's SingleLine pattern (names, types, owners): printable characters and tab, no line breaks. */
const SINGLE_LINE = /^[\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}\t]*$/u;

function violation(path: string, value: unknown, constraint: string): GlueError {
  const shown = typeof value === "string" ? value.slice(0, 80) : JSON.stringify(value);
  return invalidInput(
    `1 validation error detected: Value '${shown}' at '${path}' failed to satisfy constraint: ${constraint}`,
  );
}

export function optionalString(
  input: JsonObject,
  field: string,
  path: string,
  maxLength: number,
  singleLine = false,
): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalidInput(`${path} must be a string`);
  if (value.length > maxLength) {
    throw violation(path, value, `Member must have length less than or equal to ${maxLength}`);
  }
  if (singleLine && !SINGLE_LINE.test(value)) {
    throw violation(path, value, "Member must satisfy regular expression pattern: single-line string");
  }
  return value;
}

/** A Glue NameString: 1-255 characters on one line. */
export function requiredName(input: JsonObject, field: string, path: string): string {
  const value = optionalString(input, field, path, 255, true);
  if (value === undefined) throw violation(path, null, "Member must not be null");
  if (value.length === 0) throw violation(path, value, "Member must have length greater than or equal to 1");
  return value;
}

/**
 * A database or table name. Glue keeps these entirely lowercase (Hive compatibility): it lowers
 * them on create, and finds `Events` and `events` alike.
 */
export function entityName(input: JsonObject, field: string, path: string): string {
  return requiredName(input, field, path).toLowerCase();
}

export function catalogIdOf(input: JsonObject): string {
  return optionalString(input, "CatalogId", "catalogId", 255, true) || ACCOUNT_ID;
}

export function optionalObject(input: JsonObject, field: string, path: string): JsonObject | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw invalidInput(`${path} must be an object`);
  return value as JsonObject;
}

export function requiredObject(input: JsonObject, field: string, path: string): JsonObject {
  const value = optionalObject(input, field, path);
  if (value === undefined) throw violation(path, null, "Member must not be null");
  return value;
}

function optionalNumber(input: JsonObject, field: string, path: string): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalidInput(`${path} must be a number`);
  return value;
}

export function optionalBoolean(input: JsonObject, field: string, path: string): boolean | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw invalidInput(`${path} must be a boolean`);
  return value;
}

/** A Glue ParametersMap: keys 1-255 characters, values up to 512000. */
export function parameters(
  input: JsonObject,
  field: string,
  path: string,
): Record<string, string> | undefined {
  const value = optionalObject(input, field, path);
  if (value === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (key.length < 1 || key.length > 255 || !SINGLE_LINE.test(key)) {
      throw violation(`${path}.key`, key, "Member must have length between 1 and 255, on one line");
    }
    if (typeof entry !== "string") throw invalidInput(`${path}.${key} must be a string`);
    if (entry.length > 512000) {
      throw violation(`${path}.${key}`, entry, "Member must have length less than or equal to 512000");
    }
    out[key] = entry;
  }
  return out;
}

/** Copies the fields that are set; Glue omits absent members from its answers. */
export function defined(entries: Record<string, unknown>): JsonObject {
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
}

/**
 * A column list. Names are checked but not lowered, and duplicates are accepted: Glue stores them
 * (Athena is the one that later refuses a table with duplicate columns).
 */
export function columns(value: unknown, path: string): JsonObject[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalidInput(`${path} must be a list of columns`);
  return value.map((entry: unknown, index) => {
    const at = `${path}.${index + 1}.member`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw invalidInput(`${at} must be an object`);
    }
    const column = entry as JsonObject;
    return defined({
      Name: requiredName(column, "Name", `${at}.name`),
      Type: optionalString(column, "Type", `${at}.type`, 131072, true),
      Comment: optionalString(column, "Comment", `${at}.comment`, 255),
      Parameters: parameters(column, "Parameters", `${at}.parameters`),
    });
  });
}

/** A StorageDescriptor: its columns are checked, the rest (SerDe, formats, location) kept as sent. */
function storageDescriptor(input: JsonObject, path: string): JsonObject | undefined {
  const value = optionalObject(input, "StorageDescriptor", path);
  if (value === undefined) return undefined;
  const copy = structuredClone(value);
  optionalString(copy, "Location", `${path}.location`, 2056);
  const cols = columns(copy["Columns"], `${path}.columns`);
  if (cols !== undefined) copy["Columns"] = cols;
  return copy;
}

/**
 * The definition a TableInput describes: everything CreateTable stores and UpdateTable replaces.
 * Members this emulator does not model (federated tables, view definitions) are dropped.
 */
export function tableDefinition(input: JsonObject, path: string): JsonObject {
  const retention = optionalNumber(input, "Retention", `${path}.retention`);
  if (retention !== undefined && (!Number.isInteger(retention) || retention < 0)) {
    throw violation(`${path}.retention`, retention, "Member must have value greater than or equal to 0");
  }
  const targetTable = optionalObject(input, "TargetTable", `${path}.targetTable`);
  return defined({
    Description: optionalString(input, "Description", `${path}.description`, 2048),
    Owner: optionalString(input, "Owner", `${path}.owner`, 255, true),
    LastAccessTime: optionalNumber(input, "LastAccessTime", `${path}.lastAccessTime`),
    LastAnalyzedTime: optionalNumber(input, "LastAnalyzedTime", `${path}.lastAnalyzedTime`),
    Retention: retention ?? 0,
    StorageDescriptor: storageDescriptor(input, `${path}.storageDescriptor`),
    PartitionKeys: columns(input["PartitionKeys"], `${path}.partitionKeys`) ?? [],
    ViewOriginalText: optionalString(input, "ViewOriginalText", `${path}.viewOriginalText`, 409600),
    ViewExpandedText: optionalString(input, "ViewExpandedText", `${path}.viewExpandedText`, 409600),
    TableType: optionalString(input, "TableType", `${path}.tableType`, 255),
    Parameters: parameters(input, "Parameters", `${path}.parameters`),
    TargetTable: targetTable === undefined ? undefined : structuredClone(targetTable),
  });
}

/** A PartitionInput's stored members; `Values` is checked against the table by the caller. */
export function partitionDefinition(
  input: JsonObject,
  path: string,
): { values: string[]; fields: JsonObject } {
  const values = input["Values"];
  if (!Array.isArray(values) || values.some((value) => typeof value !== "string" || value.length > 1024)) {
    throw invalidInput(`${path}.values must be a list of strings of up to 1024 characters`);
  }
  return {
    values: [...(values as string[])],
    fields: defined({
      LastAccessTime: optionalNumber(input, "LastAccessTime", `${path}.lastAccessTime`),
      StorageDescriptor: storageDescriptor(input, `${path}.storageDescriptor`),
      Parameters: parameters(input, "Parameters", `${path}.parameters`),
      LastAnalyzedTime: optionalNumber(input, "LastAnalyzedTime", `${path}.lastAnalyzedTime`),
    }),
  };
}

/** MaxResults, checked against the operation's range. */
export function maxResults(input: JsonObject, max: number): number {
  const value = optionalNumber(input, "MaxResults", "maxResults");
  if (value === undefined) return max;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw violation("maxResults", value, `Member must have value between 1 and ${max}`);
  }
  return value;
}

/**
 * Hive's table pattern, which is what Glue applies to GetTables' Expression despite calling it a
 * regular expression: `*` matches anything (also after no `.`), `|` separates alternatives, the
 * rest is a regular expression matched against the whole name, ignoring case.
 */
export function tableNamePattern(expression: string): RegExp {
  const alternatives = expression
    .split("|")
    .map((alternative) => alternative.trim().replace(/(?<!\.)\*/g, ".*"))
    .filter((alternative) => alternative !== "");
  try {
    return new RegExp(`^(?:${alternatives.join("|") || ".*"})$`, "i");
  } catch {
    throw invalidInput(`Expression '${expression}' is not a valid pattern`);
  }
}

/**
 * One page of `items` (already in answer order, each with a unique key). The token is the key of
 * the last item returned, so a page after a concurrent create or delete neither skips nor repeats.
 */
export function page<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  input: JsonObject,
  max: number,
): { items: T[]; nextToken?: string } {
  const limit = maxResults(input, max);
  const token = optionalString(input, "NextToken", "nextToken", 4096);
  let start = 0;
  if (token) {
    let after: string;
    try {
      after = JSON.parse(Buffer.from(token, "base64url").toString("utf8")).after;
      if (typeof after !== "string") throw new Error();
    } catch {
      throw invalidInput("Invalid NextToken");
    }
    const keys = items.map(keyOf);
    const exact = keys.indexOf(after);
    start = exact >= 0 ? exact + 1 : keys.findIndex((key) => key > after);
    if (start < 0) start = items.length;
  }
  const slice = items.slice(start, start + limit);
  if (start + slice.length >= items.length) return { items: slice };
  const last = keyOf(slice[slice.length - 1]!);
  return { items: slice, nextToken: Buffer.from(JSON.stringify({ after: last })).toString("base64url") };
}
