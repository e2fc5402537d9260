/**
 * Custom resource handler: registers the manifest's schemas in the schemas table on every deploy,
 * so a fresh stack validates records from its first request. Registering is idempotent (an
 * identical schema is the existing version); a changed schema becomes the next version. Deleting
 * the stack leaves the versions, as it leaves the (retained) table.
 */
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { awsSettingsFromEnv, clientBase, dynamoClient } from "../../functions/core/aws-clients.ts";
import { createGlueClient } from "../../functions/core/catalog/glue-client.ts";
import type { CatalogConfig } from "../../functions/core/catalog/sync.ts";
import { lambdaHandler, observability, tracedClients } from "../../functions/core/lambda-handler.ts";
import type { Logger } from "../../functions/core/logger.ts";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import type { CompatibilityMode } from "../../functions/core/schema-compat/modes.ts";
import { publishSchema } from "../../functions/core/schema-publish.ts";
import { SchemaRegistry } from "../../functions/core/schema-registry.ts";

export interface SchemaToRegister {
  readonly subject: string;
  readonly schema: JsonSchema;
  readonly compatibility?: CompatibilityMode;
}

export interface RegistrationDeps {
  /** Registers one schema and brings the catalog's tables to its columns. */
  readonly register: (
    table: string,
    schema: SchemaToRegister,
    catalog: CatalogConfig,
  ) => Promise<{ version: number }>;
  /** Delivers CloudFormation's answer to the pre-signed response URL. */
  readonly respond: (url: string, body: string) => Promise<void>;
  /** Where the outcome is logged; nowhere when absent. */
  readonly logger?: Logger;
}

export type RegistrationHandler = (event: CloudFormationCustomResourceEvent) => Promise<void>;

export function createRegistrationHandler(deps: RegistrationDeps): RegistrationHandler {
  return async (event) => {
    const physicalId =
      event.RequestType === "Create"
        ? `${String(event.ResourceProperties.Table)}/schemas`
        : event.PhysicalResourceId;
    let status: "SUCCESS" | "FAILED" = "SUCCESS";
    let reason = "";
    // CloudFormation refuses a response over 4,096 bytes: counts only, never one entry per subject.
    let registered = 0;
    let versions = 0;
    try {
      if (event.RequestType !== "Delete") {
        const table = String(event.ResourceProperties.Table);
        const schemas = JSON.parse(String(event.ResourceProperties.Schemas)) as SchemaToRegister[];
        const catalog = JSON.parse(
          String(event.ResourceProperties.Catalog ?? '{"database":"","tables":[]}'),
        ) as CatalogConfig;
        for (const s of schemas) {
          const { version } = await deps.register(table, s, catalog);
          registered += 1;
          versions = Math.max(versions, version);
        }
      }
    } catch (err) {
      // The deployment fails and rolls back, with the reason in the stack events.
      status = "FAILED";
      reason = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 500);
    }
    deps.logger?.[status === "SUCCESS" ? "info" : "error"]("schemas registration answered", {
      requestType: event.RequestType,
      status,
      schemas: registered,
      ...(reason ? { reason } : {}),
    });
    // CloudFormation waits up to an hour for an answer that never comes, so one always goes out.
    await deps.respond(
      event.ResponseURL,
      JSON.stringify({
        Status: status,
        Reason: reason || `registered ${registered} schema(s)`,
        PhysicalResourceId: physicalId,
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: event.LogicalResourceId,
        Data: { Registered: String(registered), HighestVersion: String(versions) },
      }),
    );
  };
}

const settings = awsSettingsFromEnv(process.env);
// The stack's app name is not in this function's environment: its metrics (cold starts) go to `Sluice`.
const o = await observability({ service: "sluice-schemas", env: process.env });
const { dynamo, glue } = tracedClients(o.tracer, {
  dynamo: dynamoClient(clientBase(settings)),
  glue: createGlueClient(settings),
});

const registrationHandler = createRegistrationHandler({
  logger: o.logger,
  register: async (table, s, catalog) => {
    const registry = new SchemaRegistry(dynamo, table);
    const result = await publishSchema({ registry, glue, catalog }, s.subject, s.schema, {
      ...(s.compatibility === undefined ? {} : { compatibility: s.compatibility }),
    });
    const broken = result.catalog.filter((c) => c.status === "failed" || c.status === "missing");
    if (broken.length > 0) {
      throw new Error(
        `registered ${s.subject} version ${result.version}, but the catalog could not follow: ${broken.map((b) => `${b.database}.${b.table} ${b.status}${b.message ? ` (${b.message})` : ""}`).join("; ")}`,
      );
    }
    return result;
  },
  respond: async (url, body) => {
    // The pre-signed URL was signed without a content type, so none may be sent.
    const res = await fetch(url, { method: "PUT", body, headers: { "content-type": "" } });
    if (!res.ok) throw new Error(`CloudFormation response was refused: ${res.status}`);
  },
});

export const handler = lambdaHandler(registrationHandler, o, "RequestId");
