/**
 * The CDK app: one stack built from the manifest (`-c manifest=path` to pick another), checked by
 * cdk-nag's AwsSolutions pack on every synth; an unacknowledged finding fails the synth.
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { DEFAULT_MANIFEST_PATH, loadManifest, ManifestError } from "../functions/core/manifest/index.ts";
import { customTransformNames } from "../functions/transform/custom.ts";
import { SluiceStack } from "../lib/sluice-stack.ts";

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
const manifestPath = (app.node.tryGetContext("manifest") as string | undefined) ?? DEFAULT_MANIFEST_PATH;
let manifest: ReturnType<typeof loadManifest>;
try {
  manifest = loadManifest(manifestPath, { customTransforms: customTransformNames() });
} catch (err) {
  if (err instanceof ManifestError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
new SluiceStack(app, `Sluice-${manifest.name}`, {
  manifest,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
