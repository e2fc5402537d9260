import { CustomResource, Duration } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Construct, type IDependable } from "constructs";
import type { CatalogConfig } from "../functions/core/catalog/sync.ts";
import { SluiceFunction } from "./function-defaults.ts";
import { grantCatalogSync, grantTable } from "./grants.ts";
import type { SchemaToRegister } from "./schema-registration/handler.ts";

export interface SchemaRegistrationProps {
  /** The schemas table. */
  readonly table: ITable;
  /** Subjects (`{namespace}.{name}`) and their JSON Schemas, as the manifest declares them. */
  readonly schemas: readonly SchemaToRegister[];
  /** The sinks' Glue tables, brought to the registered columns after each registration. */
  readonly catalog: CatalogConfig;
  /** The Glue tables' resources, which must exist before the first registration syncs them. */
  readonly tables: readonly IDependable[];
}

/**
 * Registers the manifest's schemas on every deploy (a custom resource whose properties are the
 * schemas, so a changed schema re-runs it), so a new stack accepts records with no hand step.
 * A registration that fails fails the deployment, which rolls back.
 */
export class SchemaRegistration extends Construct {
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: SchemaRegistrationProps) {
    super(scope, id);
    const fn = new SluiceFunction(this, "Register", {
      kind: "schemas",
      timeout: Duration.minutes(1),
      description: "Registers the manifest's schemas in the schemas table (CloudFormation custom resource)",
    });
    // Registering reads a subject's versions and its item, then writes both in one transaction.
    grantTable(
      props.table,
      fn.role,
      "dynamodb:Query",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    );
    grantCatalogSync(fn.role, props.catalog);
    const schemas = props.schemas;
    this.resource = new CustomResource(this, "Schemas", {
      serviceToken: fn.fn.functionArn,
      resourceType: "Custom::SluiceSchemas",
      properties: {
        Table: props.table.tableName,
        Schemas: JSON.stringify(schemas),
        Catalog: JSON.stringify(props.catalog),
      },
    });
    for (const t of props.tables) this.resource.node.addDependency(t);
    // The function must be able to write before CloudFormation invokes it.
    this.resource.node.addDependency(fn.role);
  }
}
