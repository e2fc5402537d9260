/**
 * `sluice validate` (deploy checks) refuses each edge-case manifest that synth or CloudFormation
 * would refuse, with a message at the manifest position; the ones it accepts synthesize, stay
 * within CloudFormation's limits and pass cfn-lint.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { estimatedResources, STACK_RESOURCE_LIMIT } from "../../functions/core/manifest/deploy-limits.ts";
import { loadManifest, type Manifest } from "../../functions/core/manifest/index.ts";
import { customTransformNames } from "../../functions/transform/custom.ts";
import { ALARMS_PER_STATUS_WIDGET } from "../../lib/dashboard.ts";
import { cfnLint, unacceptable } from "./cfn-lint.ts";
import { resourcesOf, type Synthesized, synthesize } from "./synth.ts";
import { baseManifest, pipelines, type RawManifest, validate, writeManifest } from "./variants.ts";

const STAGE = "production";
const LONGEST_APP = `a${"b".repeat(30)}`;

/** The manifest as the local runner loads it: no deploy checks, so synth meets it unfiltered. */
function unchecked(raw: RawManifest): Manifest {
  return loadManifest(writeManifest(raw), { customTransforms: customTransformNames(), onWarning: () => {} });
}

function codesAt(raw: RawManifest, region?: string): string[] {
  const check = validate(raw, { stage: STAGE, ...(region ? { region } : {}) });
  return check.issues.map((i) => `${i.code} ${i.path}`);
}

const accepted: Synthesized[] = [];

describe("validate refuses what synth or CloudFormation would", () => {
  test("longest names: a derived bucket name over 63 characters, function names over 64", () => {
    const raw = baseManifest();
    raw.name = LONGEST_APP;
    raw.pipelines[0]!.name = "c".repeat(41);
    raw.pipelines[0]!.steps = [{ drop: ["comment"] }];
    const check = validate(raw, { stage: STAGE });
    assert.deepEqual(
      check.issues.map((i) => `${i.code} ${i.path}`),
      ["DEPLOY_LIMIT pipelines[0].name", "DEPLOY_LIMIT pipelines[0].name", "DEPLOY_LIMIT sinks[0].name"],
    );
    const bucket = check.issues.find((i) => i.path === "sinks[0].name")!;
    assert.match(
      bucket.message,
      /derived bucket name .* takes 75 characters in the longest region name .* over S3's 63/,
    );
    assert.ok(bucket.line > 0, "the message has a manifest position");
    assert.match(
      check.issues[0]!.message,
      /function name a.*-production-c{41}-batch takes 90 characters .* over Lambda's 64/,
    );
    // What synth does with it: CDK refuses the bucket name first.
    assert.throws(() => synthesize(unchecked(raw), { stage: STAGE, nag: false }), /Invalid S3 bucket name/);
    raw.sinks[0]!.bucket = "explicit-lake-bucket";
    assert.throws(
      () => synthesize(unchecked(raw), { stage: STAGE, nag: false }),
      /Function name can not be longer than 64 characters/,
    );
  });

  test("the region counts: a name that fits eu-west-1 may not fit the longest region", () => {
    const raw = baseManifest();
    // sluice-production-<sink>-123456789012-<region>: 32 + sink + region characters.
    raw.sinks[0]!.name = "l".repeat(63 - 32 - "eu-west-1".length);
    raw.pipelines[0]!.sink = raw.sinks[0]!.name;
    assert.deepEqual(codesAt(raw, "eu-west-1"), []);
    assert.deepEqual(codesAt(raw), ["DEPLOY_LIMIT sinks[0].name"]);
  });

  test("sinks lake-a and lakea: one CloudFormation output id", () => {
    const raw = baseManifest();
    raw.sinks = [
      { name: "lake-a", type: "parquet", prefix: "{stream}/" },
      { name: "lakea", type: "parquet", prefix: "{stream}/" },
    ];
    raw.pipelines = [
      { name: "one", sources: ["feedback"], sink: "lake-a" },
      { name: "two", sources: ["feedback"], sink: "lakea" },
    ];
    const check = validate(raw, { stage: "dev" });
    assert.deepEqual(
      check.issues.map((i) => `${i.code} ${i.path}`),
      ["DEPLOY_LIMIT sinks[1].name"],
    );
    assert.match(check.issues[0]!.message, /"lake-a" and "lakea" differ only in punctuation/);
    assert.throws(() => synthesize(unchecked(raw), { stage: "dev", nag: false }), /Bucketlakea/);
  });

  test("more pipelines than one stack's 500 resources hold", () => {
    const raw = baseManifest();
    let n = 1;
    while (
      estimatedResources(unchecked({ ...raw, pipelines: pipelines(n + 1, false) })) <= STACK_RESOURCE_LIMIT
    ) {
      n += 1;
    }
    const fits = { ...raw, pipelines: pipelines(n, false) };
    const over = { ...raw, pipelines: pipelines(n + 1, false) };
    assert.deepEqual(codesAt(fits), []);
    assert.deepEqual(codesAt(over), ["DEPLOY_LIMIT pipelines"]);
    assert.match(validate(over, { stage: STAGE }).issues[0]!.message, /over CloudFormation's 500 per stack/);
    // Synth refuses it too, counting what the estimate counts.
    const expected = estimatedResources(unchecked(over));
    assert.throws(
      () => synthesize(unchecked(over), { stage: STAGE, nag: false }),
      new RegExp(`Number of resources in stack 'Test': ${expected} is greater than allowed maximum of 500`),
    );
    const fitsSynth = synthesize(unchecked(fits), { stage: STAGE, nag: false });
    const count = Object.keys(fitsSynth.json.Resources).length;
    assert.equal(count, estimatedResources(unchecked(fits)));
    assert.ok(count <= STACK_RESOURCE_LIMIT);
    // Its alarms exceed one alarm status widget's 100: the dashboard splits them.
    const [, dashboard] = resourcesOf(fitsSynth, "AWS::CloudWatch::Dashboard")[0]!;
    const body = JSON.stringify(fitsSynth.stack.resolve(dashboard.DashboardBody));
    const widgets = [...body.matchAll(/\\"alarms\\":\[([^\]]*)\]/g)].map((m) => m[1]!.split(",").length);
    assert.ok(widgets.length >= 2, `alarms split across ${widgets.length} widgets`);
    for (const w of widgets) assert.ok(w <= ALARMS_PER_STATUS_WIDGET, `${w} alarms in one widget`);
    accepted.push(fitsSynth);
  });

  test("a pipeline whose configuration is over Lambda's 4 KB of environment", () => {
    const raw = baseManifest();
    raw.pipelines[0]!.steps = [{ set: { blob: "x".repeat(4500) } }];
    assert.deepEqual(codesAt(raw), ["DEPLOY_LIMIT pipelines[0].steps"]);
    assert.match(validate(raw, { stage: STAGE }).issues[0]!.message, /over Lambda's 4096/);
    assert.throws(() => synthesize(unchecked(raw), { stage: STAGE, nag: false }), /over Lambda's 4096/);
  });

  test("authentication off: refused for a deployment, allowed for the local runner", () => {
    const raw = { ...baseManifest(), auth: { apiKeys: false } };
    const check = validate(raw, { stage: "dev" });
    assert.deepEqual(
      check.issues.map((i) => `${i.code} ${i.path}`),
      ["AUTH_OFF auth.apiKeys"],
    );
    assert.match(check.issues[0]!.message, /every caller would act as admin on a public API/);
    assert.equal(unchecked(raw).auth.apiKeys, false);
    // Synthesized anyway, cdk-nag refuses its open routes (APIG4 is acknowledged only with auth on).
    assert.throws(
      () => synthesize(unchecked(raw), { stage: "dev" }),
      (err: Error) => {
        const report = /found in: (\S+)/.exec(err.message)?.[1];
        assert.ok(report, err.message);
        assert.match(readFileSync(report, "utf8"), /AwsSolutions-APIG4/);
        return true;
      },
    );
  });

  test("a Parquet sink whose Glue location would be the bucket root (errors/ included): refused for a deployment", () => {
    const shared: RawManifest = {
      ...baseManifest(),
      streams: [
        ...baseManifest().streams,
        { name: "reviews", schema: "feedback", eventTimeField: "ts", partitionKey: "customerId" },
      ],
      pipelines: [{ name: "feedback-lake", sources: ["feedback", "reviews"], sink: "lake" }],
    };
    assert.deepEqual(codesAt(shared), ["LAKE_LOCATION sinks[0].prefix"]);
    assert.match(
      validate(shared, { stage: STAGE }).issues[0]!.message,
      /puts the streams feedback, reviews in folders at the bucket root.*"data\/\{stream\}\/dt=/,
    );
    const dateFirst = {
      ...baseManifest(),
      sinks: [{ name: "lake", type: "parquet", prefix: "{yyyy}/{stream}/" }],
    };
    assert.match(
      validate(dateFirst, { stage: STAGE }).issues[0]!.message,
      /has no folder its data alone starts with/,
    );
    // A folder first keeps errors/ out: accepted. One stream under {stream}/ is that stream's folder.
    const foldered = {
      ...shared,
      sinks: [{ name: "lake", type: "parquet", prefix: "data/{stream}/dt={yyyy}-{MM}-{dd}/" }],
    };
    assert.deepEqual(codesAt(foldered), []);
    assert.deepEqual(codesAt(baseManifest()), []);
    // Iceberg tables are read through their metadata; the local runner takes any layout.
    assert.deepEqual(
      codesAt({ ...shared, sinks: [{ name: "lake", type: "iceberg", prefix: "{stream}/" }] }),
      [],
    );
    assert.deepEqual(unchecked(shared).sinks[0]!.prefix, "{stream}/dt={yyyy}-{MM}-{dd}/");
  });
});

describe("what validate accepts deploys", () => {
  test("the longest names that fit synthesize", () => {
    const raw = baseManifest();
    raw.name = LONGEST_APP;
    // {app}-{stage}-{pipeline}-transform is exactly 64 characters.
    raw.pipelines[0]!.name = "c".repeat(64 - LONGEST_APP.length - STAGE.length - 12);
    raw.pipelines[0]!.steps = [{ drop: ["comment"] }];
    raw.sinks[0]!.bucket = "b".repeat(63);
    const check = validate(raw, { stage: STAGE });
    assert.deepEqual(check.issues, []);
    const s = synthesize(check.manifest!, { stage: STAGE });
    const names = resourcesOf(s, "AWS::Lambda::Function").map(
      ([, p]) => p.FunctionName as string | undefined,
    );
    assert.ok(names.some((n) => n?.length === 64));
    accepted.push(s);
  });

  test("the quick-start manifest, staged and region-agnostic", () => {
    const check = validate(baseManifest(), { stage: "prod" });
    assert.deepEqual(check.issues, []);
    accepted.push(synthesize(check.manifest!, { stage: "prod", region: null }));
  });

  test("every accepted variant passes cfn-lint", () => {
    assert.ok(accepted.length >= 3);
    assert.deepEqual(unacceptable(cfnLint(accepted.map((s) => s.templatePath))), []);
  });
});

describe("the resource estimate", () => {
  test("counts what synth makes for the quick start (an Iceberg sink and its committer) and a plain Parquet lake", () => {
    for (const file of [
      "sluice.yaml",
      "test/fixtures/manifests/parquet-sink.yaml",
      "test/fixtures/manifests/three-pipelines.yaml",
    ]) {
      const manifest = loadManifest(file);
      const count = Object.keys(synthesize(manifest, { nag: false }).json.Resources).length;
      assert.equal(count, estimatedResources(manifest), file);
    }
  });
});
