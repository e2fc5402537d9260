import { CustomResource, Duration } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import type { JsonSchema } from "../functions/core/manifest/types.ts";
import { SluiceFunction } from "./function-defaults.ts";
import { grantTable } from "./grants.ts";
import type { SchemaToRegister } from "./schema-registration/handler.ts";

export interface SchemaRegistrationProps {
  /** The schemas table. */
  readonly table: ITable;
  /** Subjects (`{namespace}.{name}`) and their JSON Schemas, as the manifest declares them. */
  readonly schemas: readonly { readonly subject: string; readonly schema: JsonSchema }[];
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
    // Registering reads a subject's versions and adds the next one with a conditional put.
    grantTable(props.table, fn.role, "dynamodb:Query", "dynamodb:PutItem");
    const schemas: SchemaToRegister[] = props.schemas.map((s) => ({ subject: s.subject, schema: s.schema }));
    this.resource = new CustomResource(this, "Schemas", {
      serviceToken: fn.fn.functionArn,
      resourceType: "Custom::SluiceSchemas",
      properties: { Table: props.table.tableName, Schemas: JSON.stringify(schemas) },
    });
    // The function must be able to write before CloudFormation invokes it.
    this.resource.node.addDependency(fn.role);
  }
}
