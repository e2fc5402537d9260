/**
 * Resource names, derived in one place so the CDK app and the local runner create and
 * address the same things from the same manifest.
 *
 * A deployed stack has a stage (`cdk deploy -c stage=prod`, default `dev`): every name starts
 * with `{app}-{stage}`, so stages of one manifest live side by side in one account and a stage
 * destroyed and deployed again finds its retained tables, stream, buckets and key by name (see
 * the README's deploy section). The local runner has no stage: its names start with `{app}`.
 */
import { glueName } from "./catalog/projection.ts";

export interface ResourceNames {
  /** `{app}` or `{app}-{stage}`: what every name starts with. */
  readonly prefix: string;
  readonly eventStream: string;
  readonly tables: {
    readonly idempotency: string;
    readonly checkpoints: string;
    readonly schemas: string;
    readonly apiKeys: string;
    readonly control: string;
  };
  readonly kmsAlias: string;
  readonly ingestFunction: string;
  readonly registryFunction: string;
  /** The Glue database of the sinks' tables. */
  readonly glueDatabase: string;
  readonly alarmTopic: string;
  /** Dashboards are account-global: the name carries the region. */
  readonly dashboard: string;
  readonly adminFunction: string;
  /** Import jobs: the API routes' function, the chunk worker, its queue and dead-letter queue. */
  readonly importsFunction: string;
  readonly importChunkFunction: string;
  readonly importQueue: string;
  readonly importDeadLetters: string;
  /** The read API's function (`GET /v1/streams/{stream}/records`). */
  readonly queryFunction: string;
  /** The tail's function, behind its function URL. */
  readonly tailFunction: string;
  /** The Athena workgroup of the sinks' tables. */
  readonly athenaWorkgroup: string;
  transformFunction(pipeline: string): string;
  batchFunction(pipeline: string): string;
  /** The Iceberg committer of a sink's table. */
  commitFunction(sink: string): string;
  bucket(sink: string, explicit?: string): string;
}

/** Stage names: short, so that derived names stay within AWS's limits. */
export const STAGE_PATTERN = /^[a-z][a-z0-9]{0,9}$/;
export const STAGE_RULE = "must be 1-10 lowercase letters or digits, starting with a letter";
export const DEFAULT_STAGE = "dev";

/** `account` and `region` may be CDK tokens; they only appear in derived bucket and dashboard names. */
export function resourceNames(app: string, account: string, region: string, stage?: string): ResourceNames {
  const base = stage === undefined ? app : `${app}-${stage}`;
  return {
    prefix: base,
    eventStream: `${base}-events`,
    tables: {
      idempotency: `${base}-idempotency`,
      checkpoints: `${base}-checkpoints`,
      schemas: `${base}-schemas`,
      apiKeys: `${base}-api-keys`,
      control: `${base}-control`,
    },
    kmsAlias: `alias/${base}`,
    ingestFunction: `${base}-ingest`,
    registryFunction: `${base}-registry`,
    adminFunction: `${base}-admin`,
    importsFunction: `${base}-imports`,
    importChunkFunction: `${base}-import-chunk`,
    importQueue: `${base}-import-chunks`,
    importDeadLetters: `${base}-import-chunks-dlq`,
    queryFunction: `${base}-query`,
    tailFunction: `${base}-tail`,
    athenaWorkgroup: base,
    glueDatabase: glueName(base),
    alarmTopic: `${base}-alarms`,
    dashboard: `${base}-sluice-${region}`,
    transformFunction: (pipeline) => `${base}-${pipeline}-transform`,
    batchFunction: (pipeline) => `${base}-${pipeline}-batch`,
    commitFunction: (sink) => `${base}-${sink}-commit`,
    bucket: (sink, explicit) => explicit ?? `${base}-${sink}-${account}-${region}`,
  };
}

/** The account LocalStack and the embedded stack report. */
export const LOCAL_ACCOUNT = "000000000000";
