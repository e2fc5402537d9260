/**
 * How every Sluice function is built: ARM64, Node.js 22, ESM bundles by the local esbuild
 * (no Docker), minified with source maps.
 */

import { fileURLToPath } from "node:url";
import { Duration } from "aws-cdk-lib";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import type { Construct } from "constructs";

export const functionsDir = fileURLToPath(new URL("../functions/", import.meta.url));

export function sluiceFunction(
  scope: Construct,
  id: string,
  props: NodejsFunctionProps & { entry: string },
): NodejsFunction {
  return new NodejsFunction(scope, id, {
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    memorySize: 512,
    timeout: Duration.seconds(30),
    ...props,
    bundling: {
      format: OutputFormat.ESM,
      minify: true,
      sourceMap: true,
      target: "node22",
      mainFields: ["module", "main"],
      // ESM bundles of CommonJS dependencies need require, __dirname and __filename.
      banner:
        "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);",
      ...props.bundling,
    },
    environment: { NODE_OPTIONS: "--enable-source-maps", ...props.environment },
  });
}
