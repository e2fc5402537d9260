/**
 * cfn-lint over the templates the test suite synthesizes: every fixture manifest, staged and
 * region-agnostic as `cdk synth` makes them, and as the other infra tests make them (unstaged, in
 * eu-west-1). Errors fail; warnings fail unless ALLOWED_WARNINGS says why they may stand.
 * deploy-limits.test.ts lints its accepted edge cases the same way.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ALLOWED_WARNINGS, cfnLint, unacceptable } from "./cfn-lint.ts";
import { manifestFixture, synthesize } from "./synth.ts";

// The manifests the infra tests synthesize (valid.yaml names transforms only unit tests register).
const manifests = [
  "sluice.yaml",
  ...["three-pipelines", "two-pipelines", "payload-encryption", "fanout", "delivery"].map(
    (f) => `test/fixtures/manifests/${f}.yaml`,
  ),
];

describe("cfn-lint", () => {
  test("finds an error in a template CloudFormation would refuse (the check can fail)", () => {
    const bad = join(tmpdir(), `sluice-bad-${process.pid}.json`);
    writeFileSync(
      bad,
      JSON.stringify({
        Resources: { Lake: { Type: "AWS::S3::Bucket", Properties: { BucketName: "x".repeat(70) } } },
      }),
    );
    const problems = unacceptable(cfnLint([bad]));
    assert.ok(problems.length > 0);
    assert.match(problems.join("\n"), /E3031|longer than 63|does not match/);
  });

  test("every infra fixture's template, staged and region-agnostic and as the other tests synthesize it", () => {
    const templates: string[] = [];
    for (const path of manifests) {
      // Loaded without the deploy checks: three fixtures share a root {stream}/ or {pipeline}/
      // sink, which a deployment refuses (LAKE_LOCATION) but whose template must still lint.
      templates.push(synthesize(manifestFixture(path), { stage: "prod", region: null }).templatePath);
      templates.push(synthesize(path, { nag: false }).templatePath);
    }
    const findings = cfnLint(templates);
    assert.deepEqual(unacceptable(findings), []);
    // The allowed warnings are the only ones, each with its reason.
    for (const f of findings) assert.ok(f.Level !== "Warning" || ALLOWED_WARNINGS[f.Rule.Id]);
  });
});
