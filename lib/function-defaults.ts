/**
 * How every Sluice function is built and run: ARM64, Node.js 22, ESM bundles by the local esbuild
 * (no Docker), minified with source maps, each with its own role and log group, traced by X-Ray
 * (active tracing: the handlers' Powertools Tracer adds their subsegments and AWS SDK calls).
 *
 * The AWS SDK is bundled, not taken from the runtime. Measured with `npm run bench -- coldstart`:
 * importing the ingest bundle takes ~120 ms with the SDK inside against ~300 ms resolving the same
 * clients from node_modules (batcher ~100 ms against ~300 ms), for 0.54 MB zipped (ingest, source
 * map included) and 0.55 MB (batcher: its Parquet writer is plain TypeScript), under the 2 MB and
 * 3 MB targets. Bundling also pins the SDK and @smithy versions the code is tested with: the
 * handlers pass a bundled `NodeHttpHandler` to the clients, which must not meet an older
 * runtime-provided client.
 */

import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { type IRole, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { ADDED_ENVIRONMENT } from "../functions/core/runtime-env.ts";
import { acknowledge } from "./nag.ts";

export const functionsDir = fileURLToPath(new URL("../functions/", import.meta.url));

/** The handler of each kind of function. */
export const FUNCTION_ENTRIES = {
  ingest: `${functionsDir}ingest/handler.ts`,
  registry: `${functionsDir}registry/handler.ts`,
  admin: `${functionsDir}admin/handler.ts`,
  batch: `${functionsDir}batch/handler.ts`,
  transform: `${functionsDir}transform/handler.ts`,
  query: `${functionsDir}query/handler.ts`,
  tail: `${functionsDir}query/tail-handler.ts`,
  commit: `${functionsDir}commit/handler.ts`,
  imports: `${functionsDir}imports/handler.ts`,
  importChunk: `${functionsDir}imports/chunk-handler.ts`,
  // Deploy-time machinery, not part of the record path: it lives beside its construct.
  schemas: fileURLToPath(new URL("./schema-registration/handler.ts", import.meta.url)),
} as const;

export type FunctionKind = keyof typeof FUNCTION_ENTRIES;

/** ESM bundles of CommonJS dependencies need require, __dirname and __filename. */
export const ESM_BANNER =
  "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);";

/**
 * The esbuild options NodejsFunction passes, spelled as esbuild's own build options so the
 * coldstart bench bundles exactly what is deployed.
 */
export const ESBUILD_OPTIONS = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minify: true,
  sourcemap: true,
  // Stack traces need the mappings, not a copy of every source file: it would triple the zip.
  sourcesContent: false,
  mainFields: ["module", "main"],
  banner: { js: ESM_BANNER },
  // The Parquet writer's ZSTD fallback for Node.js before 22.15; Lambda's Node 22 has zstd in
  // node:zlib, so the native addon is never needed there (functions/core/parquet/writer/codec.ts).
  external: ["zstd-napi"] as string[],
  // The X-Ray SDK's semver serves only its AWS SDK v2 patcher (lib/bundle/semver-stub.ts).
  alias: { semver: fileURLToPath(new URL("./bundle/semver-stub.ts", import.meta.url)) },
} as const;

/** Files a bundle needs beside `index.mjs`, copied after bundling. */
export const BUNDLE_EXTRAS: Readonly<Record<FunctionKind, readonly string[]>> = {
  ingest: [],
  registry: [],
  admin: [],
  transform: [],
  schemas: [],
  batch: [],
  query: [],
  tail: [],
  commit: [],
  imports: [],
  importChunk: [],
};

export interface SluiceFunctionProps
  extends Omit<NodejsFunctionProps, "entry" | "role" | "logGroup" | "runtime" | "architecture"> {
  readonly kind: FunctionKind;
  /** How long the function's logs are kept. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * A Sluice function with a role that starts empty (no AWS managed policy: the basic execution
 * policy would allow writing to every log group) and may write only its own log group. Callers
 * add exactly what the function needs with grants.
 */
export class SluiceFunction extends Construct {
  public readonly fn: NodejsFunction;
  public readonly role: IRole;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: SluiceFunctionProps) {
    super(scope, id);
    const { kind, logRetention, bundling, environment, ...rest } = props;
    const role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `Sluice ${kind} function`,
    });
    this.role = role;
    this.logGroup = new LogGroup(this, "Logs", {
      retention: logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.logGroup.grantWrite(role);
    const extras = BUNDLE_EXTRAS[kind];
    this.fn = new NodejsFunction(this, "Function", {
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(30),
      ...rest,
      entry: FUNCTION_ENTRIES[kind],
      role,
      logGroup: this.logGroup,
      bundling: {
        format: OutputFormat.ESM,
        minify: ESBUILD_OPTIONS.minify,
        sourceMap: ESBUILD_OPTIONS.sourcemap,
        sourcesContent: ESBUILD_OPTIONS.sourcesContent,
        target: ESBUILD_OPTIONS.target,
        mainFields: [...ESBUILD_OPTIONS.mainFields],
        banner: ESM_BANNER,
        externalModules: [...ESBUILD_OPTIONS.external],
        esbuildArgs: { "--alias:semver": ESBUILD_OPTIONS.alias.semver },
        ...(extras.length > 0
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) =>
                  extras.map((file) => `cp "${inputDir}/${file}" "${outputDir}/"`),
              },
            }
          : {}),
        ...bundling,
      },
      environment: { ...ADDED_ENVIRONMENT, ...environment },
      tracing: Tracing.ACTIVE,
    });
    // Tracing.ACTIVE adds xray:PutTraceSegments and xray:PutTelemetryRecords on "*" to the role.
    acknowledge(
      role,
      "AwsSolutions-IAM5[Resource::*]",
      "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions: AWS grants them only on *, and they write trace data, nothing else.",
    );
    acknowledge(
      this.fn,
      "AwsSolutions-L1",
      "Sluice pins nodejs22.x: bundles target node22 and are tested on Node 22; moving runtimes is a deliberate, tested change, not an automatic one.",
    );
  }
}
