/**
 * The CDK app: one stack built from the manifest (`-c manifest=path` to pick another) for one
 * stage (`-c stage=prod`, default dev), checked by cdk-nag's AwsSolutions pack on every synth; an
 * unacknowledged finding fails the synth.
 *
 * The template is region-agnostic (every region is `AWS::Region`, resolved where it is deployed)
 * unless `-c region=<region>` pins it: the CLI's own default region (us-east-1 when none is
 * configured) is deliberately not used, so no synth carries a region nobody chose.
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { DEFAULT_MANIFEST_PATH, loadManifest, ManifestError } from "../functions/core/manifest/index.ts";
import { DEFAULT_STAGE, STAGE_PATTERN, STAGE_RULE } from "../functions/core/names.ts";
import { customTransformNames } from "../functions/transform/custom.ts";
import { SluiceStack } from "../lib/sluice-stack.ts";

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
const manifestPath = (app.node.tryGetContext("manifest") as string | undefined) ?? DEFAULT_MANIFEST_PATH;
const stage = String(app.node.tryGetContext("stage") ?? DEFAULT_STAGE);
const region = app.node.tryGetContext("region") as string | undefined;
if (!STAGE_PATTERN.test(stage)) {
  process.stderr.write(`-c stage=${stage}: a stage ${STAGE_RULE}\n`);
  process.exit(2);
}
let manifest: ReturnType<typeof loadManifest>;
try {
  manifest = loadManifest(manifestPath, {
    customTransforms: customTransformNames(),
    deploy: { stage, ...(region === undefined ? {} : { region }) },
  });
} catch (err) {
  if (err instanceof ManifestError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
new SluiceStack(app, `Sluice-${manifest.name}-${stage}`, {
  manifest,
  stage,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region },
});
