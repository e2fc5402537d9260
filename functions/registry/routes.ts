/**
 * The schema registry's routes: register (with the compatibility check and the catalog sync),
 * check a candidate, read and set a subject's mode, list subjects and read versions.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { SluiceError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { type PublishDeps, publishSchema } from "../core/schema-publish.ts";
import { parseSchemaCheck, parseSchemaConfig, parseSchemaRegistration } from "../core/schema-registration.ts";
import type { SchemaVersion } from "../core/schema-registry.ts";

export type SchemaRouteDeps = PublishDeps;

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

export function schemaView(v: SchemaVersion, extra: Record<string, unknown> = {}) {
  return {
    subject: v.subject,
    version: v.version,
    fingerprint: v.fingerprint,
    createdAt: v.createdAt,
    ...extra,
    schema: v.schema,
    ...(v.fieldIds ? { fieldIds: v.fieldIds } : {}),
  };
}

export async function schemaRoute(
  routeKey: string,
  event: APIGatewayProxyEventV2,
  body: Buffer | string,
  deps: SchemaRouteDeps,
  log: Logger,
): Promise<Answer | undefined> {
  const subject = event.pathParameters?.name ?? "";
  switch (routeKey) {
    case "POST /v1/schemas": {
      const registration = parseSchemaRegistration(body);
      const result = await publishSchema(deps, registration.subject, registration.schema, {
        ...(registration.compatibility === undefined ? {} : { compatibility: registration.compatibility }),
      });
      log.info("schema registered", {
        subject: result.subject,
        version: result.version,
        created: result.created,
        catalog: result.catalog.map((c) => `${c.table}:${c.status}`).join(","),
      });
      return {
        status: result.created ? 201 : 200,
        body: schemaView(result, {
          created: result.created,
          compatibility: result.compatibility,
          catalog: result.catalog,
        }),
      };
    }
    case "POST /v1/schemas/{name}/compatibility": {
      const check = parseSchemaCheck(body);
      const result = await deps.registry.check(subject, check.schema, check.compatibility);
      return {
        status: 200,
        body: {
          subject,
          mode: result.mode,
          compatible: result.incompatibilities.length === 0,
          checkedAgainst: result.checkedAgainst,
          incompatibilities: result.incompatibilities,
        },
      };
    }
    case "GET /v1/schemas/{name}/config":
      return { status: 200, body: { subject, compatibility: await deps.registry.compatibility(subject) } };
    case "PUT /v1/schemas/{name}/config": {
      const mode = parseSchemaConfig(body);
      await deps.registry.setCompatibility(subject, mode);
      log.info("schema compatibility set", { subject, compatibility: mode });
      return { status: 200, body: { subject, compatibility: mode } };
    }
    case "GET /v1/schemas":
      return { status: 200, body: { subjects: await deps.registry.subjects() } };
    case "GET /v1/schemas/{name}/versions": {
      const versions = await deps.registry.versions(subject);
      if (versions.length === 0)
        throw new SluiceError("NOT_FOUND", `schema ${subject} is not registered`, 404, "/name");
      return {
        status: 200,
        body: {
          subject,
          compatibility: await deps.registry.compatibility(subject),
          versions: versions.map((v) => ({
            version: v.version,
            fingerprint: v.fingerprint,
            createdAt: v.createdAt,
          })),
        },
      };
    }
    case "GET /v1/schemas/{name}/versions/{version}": {
      const raw = event.pathParameters?.version ?? "";
      const found =
        raw === "latest"
          ? await deps.registry.latest(subject)
          : /^[1-9][0-9]{0,8}$/.test(raw)
            ? await deps.registry.get(subject, Number(raw))
            : undefined;
      if (!found)
        throw new SluiceError(
          "NOT_FOUND",
          `schema ${subject} version ${raw} is not registered`,
          404,
          "/version",
        );
      return { status: 200, body: schemaView(found) };
    }
    default:
      return undefined;
  }
}
