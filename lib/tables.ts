import { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import type { ResourceNames } from "../functions/core/names.ts";
import { TABLE_SCHEMAS, type TableRole } from "../functions/core/table-schemas.ts";

export interface TablesProps {
  readonly names: ResourceNames["tables"];
  /** Key encrypting every table. */
  readonly key: IKey;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** Sluice's DynamoDB tables: on demand, KMS-encrypted, point-in-time recovery on. */
export class Tables extends Construct {
  public readonly idempotency: Table;
  public readonly checkpoints: Table;
  public readonly schemas: Table;
  public readonly apiKeys: Table;
  public readonly control: Table;

  constructor(scope: Construct, id: string, props: TablesProps) {
    super(scope, id);
    const make = (role: TableRole, logicalId: string) => {
      const schema = TABLE_SCHEMAS[role];
      const sortKey = "sortKey" in schema ? schema.sortKey : undefined;
      return new Table(this, logicalId, {
        tableName: props.names[role],
        partitionKey: {
          name: schema.partitionKey.name,
          type: schema.partitionKey.type === "S" ? AttributeType.STRING : AttributeType.NUMBER,
        },
        ...(sortKey
          ? {
              sortKey: {
                name: sortKey.name,
                type: sortKey.type === "S" ? AttributeType.STRING : AttributeType.NUMBER,
              },
            }
          : {}),
        ...("ttlAttribute" in schema ? { timeToLiveAttribute: schema.ttlAttribute } : {}),
        billingMode: BillingMode.PAY_PER_REQUEST,
        encryption: TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: props.key,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
    };
    this.idempotency = make("idempotency", "Idempotency");
    this.checkpoints = make("checkpoints", "Checkpoints");
    this.schemas = make("schemas", "Schemas");
    this.apiKeys = make("apiKeys", "ApiKeys");
    this.control = make("control", "Control");
  }
}
