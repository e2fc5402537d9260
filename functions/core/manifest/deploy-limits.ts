/**
 * What a manifest must also satisfy to deploy (`cdk synth`, `sluice validate`), beyond what the
 * local runner needs: AWS's name limits with the stage and region the stack is deployed with,
 * CloudFormation's limits on one stack, Lambda's 4 KB environment, and authentication on.
 * Each is a finding at the manifest position to change, so `sluice validate` refuses what
 * synth or CloudFormation would otherwise refuse half way through a deployment.
 */
import { gatewayVerifiesJwt } from "../auth/gateway-claims.ts";
import { QUERIES_PER_TARGET, queryTargets } from "../catalog/athena-queries.ts";
import { sinkTableSpecs } from "../catalog/specs.ts";
import { dataLocation } from "../catalog/table-input.ts";
import { resourceNames } from "../names.ts";
import { type RuntimeConfig, runtimeConfig } from "../runtime-config.ts";
import {
  ADDED_ENVIRONMENT,
  environmentBytes,
  environmentOf,
  ingestConfig,
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
  PIPELINE_ENV,
  pipelineConfig,
  readConfig,
  registryConfig,
} from "../runtime-env.ts";
import type { Segment } from "./positions.ts";
import type { Reporter } from "./report.ts";
import type { Manifest } from "./types.ts";

export interface DeployTarget {
  /** Qualifies every name (functions/core/names.ts). */
  readonly stage: string;
  /** The region names are checked with; the longest one AWS has when unknown (a region-agnostic synth). */
  readonly region?: string;
}

/** Longest region names today (`ap-southeast-4`, `eusc-de-east-1`): what an unknown region may be. */
const LONGEST_REGION = "xx-xxxxxxxxx-x";
const ACCOUNT = "123456789012";
export const BUCKET_NAME_LIMIT = 63;
export const FUNCTION_NAME_LIMIT = 64;
/** CloudFormation's limit on resources in one stack. */
export const STACK_RESOURCE_LIMIT = 500;

/**
 * Resources the stack synthesizes (test/infra/deploy-limits.test.ts checks this against synth):
 * a fixed part, each sink (bucket, its policy, access-log bucket and policy, Glue table), each
 * pipeline (batcher, role, policy, log group, mapping, queue, metric filters, alarms), its
 * transformer (function, role, policy, log group), each Iceberg sink's committer, the Athena workgroup (with its results bucket
 * and policy) and its named queries.
 */
export function estimatedResources(manifest: Manifest): number {
  const transformers = manifest.pipelines.filter((p) => p.steps.length > 0 && p.transformerArn === undefined);
  const targets = queryTargets(manifest, runtimeConfig(manifest, ACCOUNT, LONGEST_REGION)).length;
  return (
    STACK_BASE_RESOURCES +
    (targets > 0 ? ATHENA_RESOURCES + QUERIES_PER_TARGET * targets : 0) +
    RESOURCES_PER_SINK * manifest.sinks.length +
    RESOURCES_PER_ICEBERG_SINK * manifest.sinks.filter((s) => s.type === "iceberg").length +
    RESOURCES_PER_PIPELINE * manifest.pipelines.length +
    RESOURCES_PER_TRANSFORMER * transformers.length +
    (manifest.alarms?.email.length ?? 0) +
    (manifest.alarms?.https.length ?? 0) +
    RESOURCES_PER_SLACK_CHANNEL * (manifest.alarms?.slack.length ?? 0)
  );
}
/**
 * Everything but the sinks and pipelines: tables, stream, key, API, functions, topic, dashboard
 * (3 more with per-stream figures: the stats route and its permission); the import jobs
 * (20: two functions with roles, policies and log groups, two queues and the queue policies,
 * the event source mapping, two alarms, two routes, their integration and permissions); the
 * query function (role, policy, log group, its records and files routes, integration and
 * permissions) and the
 * tail (role, policy, log group, function URL and its two invoke permissions).
 */
export const STACK_BASE_RESOURCES = 117;
/** The Athena workgroup, its results bucket and the bucket's policy. */
export const ATHENA_RESOURCES = 3;
export const RESOURCES_PER_SINK = 5;
/** An Iceberg sink's committer: function, role, policy, log group, three schedules and their permissions. */
export const RESOURCES_PER_ICEBERG_SINK = 10;
export const RESOURCES_PER_PIPELINE = 15;
/** An email or HTTPS subscription is one; a Slack channel a Chatbot configuration and its role. */
export const RESOURCES_PER_SLACK_CHANNEL = 2;
export const RESOURCES_PER_TRANSFORMER = 4;

export function checkDeployLimits(manifest: Manifest, target: DeployTarget, report: Reporter): void {
  const region = target.region ?? LONGEST_REGION;
  const names = resourceNames(manifest.name, ACCOUNT, region, target.stage);
  const where = target.region === undefined ? "in the longest region name" : `in ${target.region}`;

  manifest.sinks.forEach((sink, i) => {
    const bucket = names.bucket(sink.name, sink.bucket);
    if (bucket.length > BUCKET_NAME_LIMIT) {
      const derived = sink.bucket === undefined;
      report.error(
        "DEPLOY_LIMIT",
        ["sinks", i, derived ? "name" : "bucket"],
        derived
          ? `the derived bucket name {app}-{stage}-{sink}-{account}-{region} takes ${bucket.length} characters ${where} (stage ${target.stage}), over S3's ${BUCKET_NAME_LIMIT}: shorten the app, stage or sink name, or set bucket`
          : `bucket name takes ${bucket.length} characters, over S3's ${BUCKET_NAME_LIMIT}`,
      );
    }
  });

  const fn = (name: string, path: Segment[]) => {
    if (name.length > FUNCTION_NAME_LIMIT) {
      report.error(
        "DEPLOY_LIMIT",
        path,
        `function name ${name} takes ${name.length} characters with stage ${target.stage}, over Lambda's ${FUNCTION_NAME_LIMIT}: shorten the app, stage or pipeline name`,
      );
    }
  };
  fn(names.ingestFunction, ["name"]);
  // The admin, query and tail functions' suffixes are shorter than `-registry`: checked with it.
  fn(names.registryFunction, ["name"]);
  fn(names.importsFunction, ["name"]);
  fn(names.importChunkFunction, ["name"]);
  manifest.pipelines.forEach((p, i) => {
    fn(names.batchFunction(p.name), ["pipelines", i, "name"]);
    if (p.steps.length > 0 && p.transformerArn === undefined) {
      fn(names.transformFunction(p.name), ["pipelines", i, "name"]);
    }
  });

  // CloudFormation output ids keep only letters and digits: `lake-a` and `lakea` are one output.
  const outputIds = new Map<string, number>();
  manifest.sinks.forEach((sink, i) => {
    const id = sink.name.replace(/[^A-Za-z0-9]/g, "");
    const first = outputIds.get(id);
    if (first === undefined) outputIds.set(id, i);
    else {
      report.error(
        "DEPLOY_LIMIT",
        ["sinks", i, "name"],
        `sink names ${JSON.stringify(manifest.sinks[first]!.name)} and ${JSON.stringify(sink.name)} differ only in punctuation, which CloudFormation output ids drop (both are Bucket${id}): rename one`,
      );
    }
  });

  const resources = estimatedResources(manifest);
  if (resources > STACK_RESOURCE_LIMIT) {
    report.error(
      "DEPLOY_LIMIT",
      ["pipelines"],
      `the stack would hold about ${resources} resources, over CloudFormation's ${STACK_RESOURCE_LIMIT} per stack (${manifest.pipelines.length} pipelines): split the pipelines across apps`,
    );
  }

  checkEnvironments(runtimeConfig(manifest, ACCOUNT, region, target.stage), manifest, names, report);
  checkAuthOn(manifest, report);
  checkGatewayJwt(manifest, report);
  checkLakeLocations(manifest, report);
}

function checkEnvironments(
  config: RuntimeConfig,
  manifest: Manifest,
  names: ReturnType<typeof resourceNames>,
  report: Reporter,
): void {
  const over = (env: Record<string, string>) => {
    const bytes = environmentBytes({ ...env, ...ADDED_ENVIRONMENT });
    return bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES ? bytes : undefined;
  };
  const ingest = over(environmentOf(ingestConfig(config)));
  if (ingest !== undefined) {
    report.error(
      "DEPLOY_LIMIT",
      ["streams"],
      `${names.ingestFunction}: the streams' configuration takes ${ingest} bytes of environment, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}: split the streams across apps`,
    );
  }
  const registry = over(environmentOf(registryConfig(config)));
  if (registry !== undefined) {
    report.error(
      "DEPLOY_LIMIT",
      ["sinks"],
      `${names.registryFunction}: the catalog's configuration takes ${registry} bytes of environment, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}: split the sinks across apps`,
    );
  }
  // The query function and the tail carry every stream and each stream's lake (readConfig).
  const reads = over(environmentOf(readConfig(config)));
  if (reads !== undefined) {
    report.error(
      "DEPLOY_LIMIT",
      ["streams"],
      `${names.queryFunction}: the read path's configuration (streams and their lakes) takes ${reads} bytes of environment, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}: split the streams across apps`,
    );
  }
  manifest.pipelines.forEach((p, i) => {
    const bytes = over(environmentOf(pipelineConfig(config, p.name), { [PIPELINE_ENV]: p.name }));
    if (bytes !== undefined) {
      report.error(
        "DEPLOY_LIMIT",
        ["pipelines", i, "steps"],
        `${names.batchFunction(p.name)}: the pipeline's configuration takes ${bytes} bytes of environment, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}: shorten its steps`,
      );
    }
  });
}

/**
 * JWT as the only scheme puts API Gateway's JWT authorizer on the routes (lib/ingest-api.ts),
 * which finds the signing keys through the issuer's OpenID configuration
 * (`{issuer}/.well-known/openid-configuration`): the issuer must be an https URL.
 */
function checkGatewayJwt(manifest: Manifest, report: Reporter): void {
  const jwt = manifest.auth.jwt;
  if (jwt === undefined || !gatewayVerifiesJwt(manifest.auth) || jwt.issuer.startsWith("https://")) return;
  report.error(
    "AUTH_GATEWAY_JWT",
    ["auth", "jwt", "issuer"],
    `issuer ${jwt.issuer} is not an https URL: with JWT as the only scheme, API Gateway's JWT authorizer verifies tokens and reads the signing keys from the issuer's /.well-known/openid-configuration, which must be served over https`,
  );
}

/**
 * A Parquet sink's Glue table needs a Location holding its data only: engines that list it
 * (Spark, Hive, crawlers, Athena on an unprojected table) would read `errors/` as Parquet. With
 * several streams (or pipelines) under `{stream}/…` at the bucket root, or a prefix starting with
 * a date, there is none, so a deployment refuses the layout; the local runner allows it. Iceberg
 * tables are read through their metadata, never by listing.
 */
function checkLakeLocations(manifest: Manifest, report: Reporter): void {
  const specs = sinkTableSpecs(manifest, (sink) => sink);
  manifest.sinks.forEach((sink, i) => {
    const spec = specs.get(sink.name);
    if (sink.type !== "parquet" || spec === undefined || spec.pipelines.length === 0) return;
    if (dataLocation(spec) !== undefined) return;
    const shared = /^\{(stream|pipeline)\}\//.exec(sink.prefix)?.[1];
    const why =
      shared === undefined
        ? "has no folder its data alone starts with"
        : `puts ${shared === "stream" ? `the streams ${spec.streams.join(", ")}` : `the pipelines ${spec.pipelines.join(", ")}`} in folders at the bucket root`;
    report.error(
      "LAKE_LOCATION",
      ["sinks", i, "prefix"],
      `prefix ${sink.prefix} ${why}, so the Glue table's location would be the bucket root, which holds errors/ too, and engines that list it would read error files as data: start the prefix with a folder (e.g. "data/${sink.prefix}")`,
    );
  });
}

/**
 * With `apiKeys: false` and no `jwt`, every caller would act as admin on a public URL: anyone
 * could write every stream and register schemas. The local runner allows it; a deployment not.
 */
function checkAuthOn(manifest: Manifest, report: Reporter): void {
  if (manifest.auth.apiKeys || manifest.auth.jwt !== undefined) return;
  report.error(
    "AUTH_OFF",
    ["auth", "apiKeys"],
    "authentication is off (apiKeys false and no jwt): every caller would act as admin on a public API, so a deployment refuses it; turn apiKeys on or configure jwt (the local runner allows it)",
  );
}
