/**
 * Registering a schema version and bringing the catalog along: the API route, the deploy's
 * custom resource and the local runner all publish this way, so a new column reaches the Glue
 * tables whichever way the version came in. The catalog is synced even when the version existed
 * already, so repeating a registration repairs a table an earlier sync could not reach.
 */
import type { GlueClient } from "@aws-sdk/client-glue";
import type { CatalogConfig, SyncResult } from "./catalog/sync.ts";
import { syncCatalogFor } from "./catalog/sync.ts";
import { SluiceError } from "./errors.ts";
import { icebergWidenings } from "./iceberg/schema.ts";
import type { JsonSchema } from "./manifest/types.ts";
import type { RegisterOptions, RegisterResult, SchemaRegistry } from "./schema-registry.ts";

export interface PublishDeps {
  readonly registry: SchemaRegistry;
  readonly glue: GlueClient;
  readonly catalog: CatalogConfig;
}

export type PublishResult = RegisterResult & { readonly catalog: readonly SyncResult[] };

export async function publishSchema(
  deps: PublishDeps,
  subject: string,
  schema: JsonSchema,
  options: RegisterOptions = {},
): Promise<PublishResult> {
  if (deps.catalog.tables.some((t) => t.iceberg && t.subjects.includes(subject))) {
    const latest = await deps.registry.latest(subject);
    const widened = latest ? icebergWidenings(latest.schema, schema) : [];
    if (widened.length > 0) {
      throw new SluiceError(
        "SCHEMA_INCOMPATIBLE",
        `${subject} is written to an Iceberg table, which cannot widen integer to number (long to double); add a new field instead`,
        409,
        "/schema",
        {},
        widened.map((path) => ({ path, message: "integer widened to number" })),
      );
    }
  }
  const registered = await deps.registry.register(subject, schema, options);
  const catalog = await syncCatalogFor(deps.glue, deps.catalog, subject, async (s) =>
    (await deps.registry.versions(s)).sort((a, b) => b.version - a.version).map((v) => v.schema),
  );
  return { ...registered, catalog };
}
