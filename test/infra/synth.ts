/**
 * Synthesizes a SluiceStack the way `cdk synth` does (cdk-nag's AwsSolutions pack included) into a
 * temp cloud assembly, once per call: test files call it in `before` and share the result.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, CfnResource, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { type DeployTarget, loadManifest } from "../../functions/core/manifest/index.ts";
import type { Manifest } from "../../functions/core/manifest/types.ts";
import { customTransformNames } from "../../functions/transform/custom.ts";
import { SluiceStack } from "../../lib/sluice-stack.ts";

const CDK_CONTEXT = (JSON.parse(readFileSync("cdk.json", "utf8")) as { context: Record<string, unknown> })
  .context;

export const ACCOUNT = "123456789012";
export const REGION = "eu-west-1";

export interface NagViolation {
  readonly ruleName: string;
  readonly violatingConstructs: readonly { constructPath: string }[];
}

export interface NagSuppression extends NagViolation {
  readonly acknowledgedId: string;
  readonly acknowledgedAt: string;
  readonly reason: string;
}

export interface Synthesized {
  readonly stack: SluiceStack;
  readonly template: Template;
  /** The template as JSON, for walking every resource. */
  readonly json: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  readonly outdir: string;
  /** The template file in the cloud assembly, for cfn-lint. */
  readonly templatePath: string;
  readonly violations: readonly NagViolation[];
  readonly suppressions: readonly NagSuppression[];
  /** Logical id -> construct path, for telling whose resource is whose. */
  readonly paths: ReadonlyMap<string, string>;
}

export interface SynthOptions {
  /** Bundle the functions with esbuild (slow); otherwise assets are left unbundled. @default false */
  readonly bundle?: boolean;
  /** Run cdk-nag. @default true */
  readonly nag?: boolean;
  /** The stage qualifying the names (`-c stage=`). @default none, the local runner's names */
  readonly stage?: string;
  /** The stack's region; `null` for a region-agnostic stack, as `cdk synth` without `-c region`. @default REGION */
  readonly region?: string | null;
}

export function manifestFixture(path: string, deploy?: DeployTarget): Manifest {
  return loadManifest(path, { customTransforms: customTransformNames(), ...(deploy ? { deploy } : {}) });
}

export function synthesize(manifest: Manifest | string, options: SynthOptions = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), "sluice-infra-"));
  // Assemblies with bundles are megabytes each; tests read them until the process ends.
  process.on("exit", () => rmSync(outdir, { recursive: true, force: true }));
  const app = new App({
    outdir,
    context: {
      // The feature flags `cdk deploy` gets, so the tests check the template that deploys.
      ...CDK_CONTEXT,
      "cli-telemetry": false,
      // Unbundled unless asked: the tests that look at code bundle once, the rest stay fast.
      ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }),
    },
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const region = options.region === undefined ? REGION : (options.region ?? undefined);
  const stack = new SluiceStack(app, "Test", {
    manifest: typeof manifest === "string" ? manifestFixture(manifest) : manifest,
    ...(options.stage === undefined ? {} : { stage: options.stage }),
    env: { account: ACCOUNT, region },
  });
  // Throws, with cdk-nag's report, when a finding is not acknowledged.
  const assembly = app.synth();
  const artifact = assembly.getStackArtifact(stack.artifactId);
  const json = artifact.template as Synthesized["json"];
  const report =
    (options.nag ?? true)
      ? (JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as {
          pluginReports: { violations: NagViolation[]; suppressedViolations?: NagSuppression[] }[];
        })
      : { pluginReports: [] };
  const paths = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnResource) paths.set(stack.resolve(c.logicalId) as string, c.node.path);
  }
  return {
    stack,
    template: Template.fromJSON(json),
    json,
    outdir,
    templatePath: artifact.templateFullPath,
    violations: report.pluginReports.flatMap((r) => r.violations),
    suppressions: report.pluginReports.flatMap((r) => r.suppressedViolations ?? []),
    paths,
  };
}

/** Every resource of a type, as [logicalId, properties]. */
export function resourcesOf(s: Synthesized, type: string): [string, Record<string, unknown>][] {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

export const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** One action allowed on one resource, under the statement's condition if it has one. */
export interface Permission {
  readonly action: string;
  /** The resource as JSON (an ARN string, or the CloudFormation expression building it). */
  readonly resource: string;
  /** The condition as JSON; absent when unconditional. */
  readonly condition?: string;
}

/**
 * Allow statements as the action × resource pairs they grant: what a role may do, whatever way
 * CDK grouped the statements (`@aws-cdk/aws-iam:minimizePolicies` merges statements that share
 * actions or resources), so least-privilege tests assert permissions, not statement shapes.
 */
export function permissionsOf(statements: readonly Statement[]): Permission[] {
  const seen = new Map<string, Permission>();
  for (const st of statements) {
    if (st.Effect !== "Allow") continue;
    const condition = st.Condition === undefined ? undefined : JSON.stringify(st.Condition);
    for (const action of asList(st.Action)) {
      for (const r of asList(st.Resource as unknown)) {
        const p = { action, resource: JSON.stringify(r), ...(condition === undefined ? {} : { condition }) };
        seen.set(`${p.action} ${p.resource} ${condition ?? ""}`, p);
      }
    }
  }
  return [...seen.values()];
}

/** `action @ resource` of each permission, sorted: readable in an assertion message. */
export function permissionLines(statements: readonly Statement[]): string[] {
  return permissionsOf(statements)
    .map((p) => `${p.action} @ ${p.resource}${p.condition === undefined ? "" : ` if ${p.condition}`}`)
    .sort();
}

/** The actions `statements` allow on resources matching `resource`, sorted. */
export function actionsOn(statements: readonly Statement[], resource: RegExp): string[] {
  return [
    ...new Set(
      permissionsOf(statements)
        .filter((p) => resource.test(p.resource))
        .map((p) => p.action),
    ),
  ].sort();
}

/** The resources `statements` allow `action` on, as JSON. */
export function resourcesFor(statements: readonly Statement[], action: string): string[] {
  return permissionsOf(statements)
    .filter((p) => p.action === action)
    .map((p) => p.resource);
}

/** What active tracing grants every function's role, on "*" (X-Ray has no resource-level permissions). */
export const XRAY_ACTIONS = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"] as const;

function isTracingGrant(statement: Statement): boolean {
  const actions = asList(statement.Action).map(String).sort();
  return actions.length === XRAY_ACTIONS.length && actions.every((a, i) => a === XRAY_ACTIONS[i]);
}

/**
 * @aws-cdk/aws-iam:minimizePolicies merges statements over the same resources: on "*", the
 * tracing grant with another action that has no resource-level permissions (GetMetricData).
 * Split back, so each grant is checked as what it is; the permissions are the same.
 */
function unmerged(statement: Statement): Statement[] {
  const actions = asList(statement.Action).map(String);
  const xray = actions.filter((a) => (XRAY_ACTIONS as readonly string[]).includes(a));
  if (statement.Resource !== "*" || xray.length !== XRAY_ACTIONS.length || xray.length === actions.length)
    return [statement];
  const rest = actions.filter((a) => !xray.includes(a));
  return [
    { ...statement, Action: xray },
    { ...statement, Action: rest.length === 1 ? rest[0]! : rest },
  ];
}

function allStatements(s: Synthesized): { policy: string; roles: unknown[]; statement: Statement }[] {
  return resourcesOf(s, "AWS::IAM::Policy").flatMap(([id, p]) =>
    (p.PolicyDocument as { Statement: Statement[] }).Statement.flatMap(unmerged).map((statement) => ({
      policy: id,
      roles: asList(p.Roles as unknown[]),
      statement,
    })),
  );
}

/** Every statement of the roles' identity policies but the tracing grant, which `tracingStatements` returns. */
export function identityStatements(
  s: Synthesized,
): { policy: string; roles: unknown[]; statement: Statement }[] {
  return allStatements(s).filter((x) => !isTracingGrant(x.statement));
}

export function tracingStatements(
  s: Synthesized,
): { policy: string; roles: unknown[]; statement: Statement }[] {
  return allStatements(s).filter((x) => isTracingGrant(x.statement));
}

/** The statements granted to the role of the function whose FunctionName is `functionName`. */
export function statementsOf(s: Synthesized, functionName: string): Statement[] {
  const fn = resourcesOf(s, "AWS::Lambda::Function").find(([, p]) => p.FunctionName === functionName);
  if (!fn) throw new Error(`no function ${functionName}`);
  const roleId = ((fn[1].Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"] ?? [])[0];
  return identityStatements(s)
    .filter((x) => x.roles.some((r) => (r as { Ref?: string }).Ref === roleId))
    .map((x) => x.statement);
}
