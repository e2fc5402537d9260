/**
 * Stages side by side: `-c stage=<name>` qualifies every name, output and the dashboard; the
 * KMS key and its alias are retained together; without `-c region` the template names no region.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ACCOUNT, REGION, resourcesOf, type Synthesized, synthesize } from "./synth.ts";

let dev: Synthesized;
let prod: Synthesized;
let agnostic: Synthesized;

const physicalNames = (s: Synthesized) =>
  [
    ...resourcesOf(s, "AWS::DynamoDB::Table").map(([, p]) => p.TableName),
    ...resourcesOf(s, "AWS::Kinesis::Stream").map(([, p]) => p.Name),
    ...resourcesOf(s, "AWS::Lambda::Function").flatMap(([, p]) => (p.FunctionName ? [p.FunctionName] : [])),
    ...resourcesOf(s, "AWS::S3::Bucket").flatMap(([, p]) => (p.BucketName ? [p.BucketName] : [])),
    ...resourcesOf(s, "AWS::SNS::Topic").map(([, p]) => p.TopicName),
    ...resourcesOf(s, "AWS::CloudWatch::Dashboard").map(([, p]) => p.DashboardName),
    ...resourcesOf(s, "AWS::KMS::Alias").map(([, p]) => p.AliasName),
    ...resourcesOf(s, "AWS::Glue::Database").map(([, p]) => (p.DatabaseInput as { Name: string }).Name),
  ].map((n) => JSON.stringify(s.stack.resolve(n)));

before(() => {
  dev = synthesize("sluice.yaml", { stage: "dev", nag: false });
  prod = synthesize("sluice.yaml", { stage: "prod", nag: false });
  agnostic = synthesize("sluice.yaml", { stage: "dev", region: null, nag: false });
});

describe("stages", () => {
  test("every physical name carries the stage, and two stages share none", () => {
    const devNames = physicalNames(dev);
    const prodNames = physicalNames(prod);
    assert.ok(devNames.length >= 12, devNames.join(", "));
    for (const n of devNames) assert.match(n, /sluice[-_]dev/, n);
    for (const n of prodNames) assert.match(n, /sluice[-_]prod/, n);
    assert.deepEqual(
      devNames.filter((n) => prodNames.includes(n)),
      [],
    );
    dev.template.hasResourceProperties("AWS::S3::Bucket", {
      BucketName: `sluice-dev-lake-${ACCOUNT}-${REGION}`,
    });
    dev.template.hasResourceProperties("AWS::CloudWatch::Dashboard", {
      DashboardName: `sluice-dev-sluice-${REGION}`,
    });
    dev.template.hasResourceProperties("AWS::Glue::Database", { DatabaseInput: { Name: "sluice_dev" } });
  });

  test("the KMS key and its alias are both retained", () => {
    for (const type of ["AWS::KMS::Key", "AWS::KMS::Alias"]) {
      const all = Object.values(dev.json.Resources).filter((r) => r.Type === type) as {
        DeletionPolicy?: string;
        UpdateReplacePolicy?: string;
      }[];
      assert.equal(all.length, 1, type);
      assert.equal(all[0]!.DeletionPolicy, "Retain", type);
      assert.equal(all[0]!.UpdateReplacePolicy, "Retain", type);
    }
    dev.template.hasResourceProperties("AWS::KMS::Alias", { AliasName: "alias/sluice-dev" });
  });

  test("without a region the template names none: every region is AWS::Region", () => {
    const text = JSON.stringify(agnostic.json);
    assert.doesNotMatch(
      text,
      /(us|eu|ap|sa|ca|me|af|il|mx)-(north|south|east|west|central|northeast|southeast)-\d/,
    );
    assert.match(text, /AWS::Region/);
    // The dashboard, account-global, is still region-qualified.
    const [, dashboard] = resourcesOf(agnostic, "AWS::CloudWatch::Dashboard")[0]!;
    assert.match(JSON.stringify(dashboard.DashboardName), /sluice-dev-sluice-.*AWS::Region/);
  });
});
