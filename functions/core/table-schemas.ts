/**
 * Key schemas of Sluice's DynamoDB tables, shared by the CDK Tables construct and the local
 * provisioner so both create the same tables.
 */
export interface TableSchema {
  readonly partitionKey: { readonly name: string; readonly type: "S" | "N" };
  readonly sortKey?: { readonly name: string; readonly type: "S" | "N" };
  /** Attribute holding the epoch-seconds expiry, for DynamoDB TTL. */
  readonly ttlAttribute?: string;
}

export const TABLE_SCHEMAS = {
  /** pk `{stream}#{key}`: claim status and the original result. */
  idempotency: { partitionKey: { name: "pk", type: "S" }, ttlAttribute: "expiresAt" },
  /** One item per pipeline and shard. */
  checkpoints: { partitionKey: { name: "pipeline", type: "S" }, sortKey: { name: "shard", type: "S" } },
  /** Subject `{namespace}.{name}` and version; version 0 is the subject itself. */
  schemas: { partitionKey: { name: "subject", type: "S" }, sortKey: { name: "version", type: "N" } },
  /** SHA-256 of the API key; the key itself is never stored. */
  apiKeys: { partitionKey: { name: "keyHash", type: "S" } },
  /** Run-time control state: `stream#{name}` holds a stream's lifecycle state (see core/streams). */
  control: { partitionKey: { name: "pk", type: "S" } },
} as const satisfies Record<string, TableSchema>;

export type TableRole = keyof typeof TABLE_SCHEMAS;
