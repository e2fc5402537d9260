/** The CDK app: one stack built from the manifest (`-c manifest=path` to pick another). */
import { App } from "aws-cdk-lib";
import { DEFAULT_MANIFEST_PATH, loadManifest, ManifestError } from "../functions/core/manifest/index.ts";
import { customTransformNames } from "../functions/transform/custom.ts";
import { SluiceStack } from "../lib/sluice-stack.ts";

const app = new App();
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
