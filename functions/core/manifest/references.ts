/** Cross-reference checks the schema cannot express: unique names, known references, schema files, auth. */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { schemaProblems } from "../schema-problems.ts";
import type { LoadManifestOptions } from "./load.ts";
import { isRecord, list, type Segment } from "./positions.ts";
import { checkPrefix, checkStep, declares, FIELD_PATH } from "./prefix-checks.ts";
import { describeFsError, displayPath, type Reporter } from "./report.ts";
import { checkSinkTable } from "./sink-checks.ts";
import { hint } from "./suggest.ts";
import type { JsonSchema } from "./types.ts";

/** Checks what the JSON Schema cannot; returns the parsed schema files by schema name. */
export function checkReferences(
  data: Record<string, unknown>,
  manifestPath: string,
  report: Reporter,
  options: LoadManifestOptions,
): Map<string, JsonSchema> {
  const schemaNames = uniqueNames(data, "schemas", "schema", report);
  const streamNames = uniqueNames(data, "streams", "stream", report);
  uniqueNames(data, "pipelines", "pipeline", report);
  const sinkNames = uniqueNames(data, "sinks", "sink", report);

  const schemas = new Map<string, JsonSchema>();
  list(data.schemas).forEach((entry, i) => {
    if (!isRecord(entry) || typeof entry.file !== "string") return;
    const loaded = loadSchemaFile(entry.file, manifestPath, ["schemas", i, "file"], report);
    if (loaded !== undefined && typeof entry.name === "string" && !schemas.has(entry.name)) {
      schemas.set(entry.name, loaded);
    }
  });

  const streamSchemas = new Map<string, string>();
  list(data.streams).forEach((stream, i) => {
    if (!isRecord(stream) || typeof stream.schema !== "string") return;
    if (typeof stream.name === "string") streamSchemas.set(stream.name, stream.schema);
    if (!schemaNames.has(stream.schema)) {
      const message = `unknown schema ${JSON.stringify(stream.schema)}${hint(stream.schema, [...schemaNames.keys()], "declared")}`;
      report.error("UNKNOWN_REFERENCE", ["streams", i, "schema"], message);
      return;
    }
    const schema = schemas.get(stream.schema);
    for (const key of ["eventTimeField", "partitionKey"] as const) {
      const field = stream[key];
      if (schema === undefined || typeof field !== "string" || !FIELD_PATH.test(field)) continue;
      if (declares(schema, field.split(".")) === "no") {
        const message = `field ${JSON.stringify(field)} is not declared by schema ${JSON.stringify(stream.schema)}`;
        report.warn("UNDECLARED_FIELD", ["streams", i, key], message);
      }
    }
  });

  list(data.pipelines).forEach((pipeline, p) => {
    if (!isRecord(pipeline)) return;
    list(pipeline.sources).forEach((source, s) => {
      if (typeof source === "string" && !streamNames.has(source)) {
        const message = `unknown stream ${JSON.stringify(source)}${hint(source, [...streamNames.keys()], "declared")}`;
        report.error("UNKNOWN_REFERENCE", ["pipelines", p, "sources", s], message);
      }
    });
    if (typeof pipeline.sink === "string" && !sinkNames.has(pipeline.sink)) {
      const message = `unknown sink ${JSON.stringify(pipeline.sink)}${hint(pipeline.sink, [...sinkNames.keys()], "declared")}`;
      report.error("UNKNOWN_REFERENCE", ["pipelines", p, "sink"], message);
    }
    if (typeof pipeline.schema === "string" && !schemaNames.has(pipeline.schema)) {
      const message = `unknown schema ${JSON.stringify(pipeline.schema)}${hint(pipeline.schema, [...schemaNames.keys()], "declared")}`;
      report.error("UNKNOWN_REFERENCE", ["pipelines", p, "schema"], message);
    }
    list(pipeline.steps).forEach((step, s) => {
      if (isRecord(step)) checkStep(step, ["pipelines", p, "steps", s], report, options);
    });
  });

  list(data.sinks).forEach((sink, i) => {
    if (!isRecord(sink) || typeof sink.name !== "string" || typeof sink.prefix !== "string") return;
    const feeders = list(data.pipelines).filter(
      (pipeline): pipeline is Record<string, unknown> => isRecord(pipeline) && pipeline.sink === sink.name,
    );
    checkPrefix(sink.prefix, ["sinks", i, "prefix"], feeders, streamSchemas, schemas, report);
    checkSinkTable(sink, ["sinks", i], feeders, streamSchemas, schemas, report);
  });

  checkRuntimeStreams(data, report);

  const kinesis = data.kinesis;
  if (isRecord(kinesis) && kinesis.shards !== undefined && kinesis.mode !== "provisioned") {
    report.warn("IGNORED_SETTING", ["kinesis", "shards"], 'only applies when mode is "provisioned"', "key");
  }
  checkAuth(data.auth, report);
  return schemas;
}

/** The run-time streams' pipeline exists and keeps each stream's files apart with `{stream}`. */
function checkRuntimeStreams(data: Record<string, unknown>, report: Reporter): void {
  const settings = data.runtimeStreams;
  if (!isRecord(settings) || typeof settings.pipeline !== "string") return;
  const pipelines = list(data.pipelines).filter(isRecord);
  const pipeline = pipelines.find((p) => p.name === settings.pipeline);
  if (!pipeline) {
    const names = pipelines.map((p) => String(p.name));
    const message = `unknown pipeline ${JSON.stringify(settings.pipeline)}${hint(settings.pipeline, names, "declared")}`;
    report.error("UNKNOWN_REFERENCE", ["runtimeStreams", "pipeline"], message);
    return;
  }
  const sink = list(data.sinks).find((s) => isRecord(s) && s.name === pipeline.sink);
  // An Iceberg table has the declared streams' schema: another stream's files would corrupt it.
  if (isRecord(sink) && sink.type === "iceberg") {
    report.error(
      "INVALID_VALUE",
      ["runtimeStreams", "pipeline"],
      `pipeline ${JSON.stringify(settings.pipeline)} writes to Iceberg sink ${JSON.stringify(sink.name)}, whose table holds the declared streams' schema: run-time streams need a parquet sink`,
    );
    return;
  }
  if (isRecord(sink) && typeof sink.prefix === "string" && !sink.prefix.includes("{stream}")) {
    report.error(
      "INVALID_VALUE",
      ["runtimeStreams", "pipeline"],
      `pipeline ${JSON.stringify(settings.pipeline)} writes to sink ${JSON.stringify(sink.name)}, whose prefix has no {stream}: run-time streams' files would mix`,
    );
  }
}

/** Turning authentication off must be loud: every caller then acts as admin. */
function checkAuth(auth: unknown, report: Reporter): void {
  if (!isRecord(auth) || auth.apiKeys !== false || auth.jwt !== undefined) return;
  report.warn(
    "INVALID_VALUE",
    ["auth", "apiKeys"],
    "with no jwt section this turns authentication off: every caller acts as admin (for local experiments only)",
  );
}

/** Reports repeated names in one section; returns each name with the index that declares it. */
function uniqueNames(
  data: Record<string, unknown>,
  section: string,
  what: string,
  report: Reporter,
): Map<string, number> {
  const first = new Map<string, number>();
  list(data[section]).forEach((item, i) => {
    if (!isRecord(item) || typeof item.name !== "string") return;
    const earlier = first.get(item.name);
    if (earlier === undefined) {
      first.set(item.name, i);
      return;
    }
    const message = `duplicate ${what} name ${JSON.stringify(item.name)} (first declared as ${section}[${earlier}])`;
    report.error("DUPLICATE_NAME", [section, i, "name"], message);
  });
  return first;
}

function loadSchemaFile(
  file: string,
  manifestPath: string,
  path: Segment[],
  report: Reporter,
): JsonSchema | undefined {
  const absolute = resolve(dirname(manifestPath), file);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (error) {
    report.error(
      "SCHEMA_FILE",
      path,
      `cannot read schema file ${displayPath(absolute)}: ${describeFsError(error)}`,
    );
    return undefined;
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    report.error("SCHEMA_FILE", path, `schema file ${file} is not valid JSON: ${reason}`);
    return undefined;
  }
  if (!isRecord(schema)) {
    report.error("SCHEMA_FILE", path, `schema file ${file} must hold a JSON object`);
    return undefined;
  }
  const problem = compileProblem(schema);
  if (problem !== undefined) {
    report.error("SCHEMA_FILE", path, `schema file ${file} is not a usable JSON Schema: ${problem}`);
    return undefined;
  }
  return schema;
}

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;
const DRAFT_2020 = /^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/;

/** The dialect, then what registration would refuse (schema-problems.ts); returns why, or nothing. */
function compileProblem(schema: JsonSchema): string | undefined {
  const dialect = schema.$schema;
  const known = typeof dialect === "string" && (DRAFT_2020.test(dialect) || DRAFT_07.test(dialect));
  if (dialect !== undefined && !known) {
    return `unsupported $schema ${JSON.stringify(dialect)}; use draft-07 or 2020-12`;
  }
  const problems = schemaProblems(schema, "");
  if (problems.length === 0) return undefined;
  return problems.map((p) => `${p.path || "/"}: ${p.message}`).join("; ");
}
