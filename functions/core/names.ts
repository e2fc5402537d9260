/**
 * Resource names, derived in one place so the CDK app and the local runner create and
 * address the same things from the same manifest.
 */
export interface ResourceNames {
  readonly eventStream: string;
  readonly tables: {
    readonly idempotency: string;
    readonly checkpoints: string;
    readonly schemas: string;
    readonly apiKeys: string;
  };
  readonly kmsAlias: string;
  readonly ingestFunction: string;
  readonly registryFunction: string;
  transformFunction(pipeline: string): string;
  batchFunction(pipeline: string): string;
  /** The Iceberg committer of a sink's table. */
  commitFunction(sink: string): string;
  bucket(sink: string, explicit?: string): string;
}

/** `account` and `region` may be CDK tokens; they only appear in derived bucket names. */
export function resourceNames(app: string, account: string, region: string): ResourceNames {
  return {
    eventStream: `${app}-events`,
    tables: {
      idempotency: `${app}-idempotency`,
      checkpoints: `${app}-checkpoints`,
      schemas: `${app}-schemas`,
      apiKeys: `${app}-api-keys`,
    },
    kmsAlias: `alias/${app}`,
    ingestFunction: `${app}-ingest`,
    registryFunction: `${app}-registry`,
    transformFunction: (pipeline) => `${app}-${pipeline}-transform`,
    batchFunction: (pipeline) => `${app}-${pipeline}-batch`,
    commitFunction: (sink) => `${app}-${sink}-commit`,
    bucket: (sink, explicit) => explicit ?? `${app}-${sink}-${account}-${region}`,
  };
}

/** The account LocalStack and the embedded stack report. */
export const LOCAL_ACCOUNT = "000000000000";
