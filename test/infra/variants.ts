/**
 * Manifests written from plain objects (edge cases: longest names, colliding sinks, many
 * pipelines, authentication off), loaded the way `sluice validate` and `cdk synth` load them.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { checkManifest, type DeployTarget, type ManifestCheck } from "../../functions/core/manifest/index.ts";
import { customTransformNames } from "../../functions/transform/custom.ts";

const dir = mkdtempSync(join(tmpdir(), "sluice-variants-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
let written = 0;

export type RawManifest = Record<string, unknown> & {
  name: string;
  pipelines: Record<string, unknown>[];
  sinks: Record<string, unknown>[];
  streams: Record<string, unknown>[];
};

/** sluice.yaml's shape: one stream, one pipeline, one sink. */
export function baseManifest(): RawManifest {
  return {
    version: 1,
    name: "sluice",
    schemas: [{ name: "feedback", namespace: "sluice", file: resolve("schemas/feedback.v1.json") }],
    streams: [{ name: "feedback", schema: "feedback", eventTimeField: "ts", partitionKey: "customerId" }],
    pipelines: [{ name: "feedback-lake", sources: ["feedback"], sink: "lake" }],
    sinks: [{ name: "lake", type: "parquet", prefix: "{stream}/dt={yyyy}-{MM}-{dd}/" }],
  };
}

export function writeManifest(raw: RawManifest): string {
  written += 1;
  const path = join(dir, `manifest-${written}.yaml`);
  writeFileSync(path, stringify(raw));
  return path;
}

/** What `sluice validate --stage <stage> [--region <region>]` finds. */
export function validate(raw: RawManifest, deploy: DeployTarget): ManifestCheck {
  return checkManifest(writeManifest(raw), { customTransforms: customTransformNames(), deploy });
}

/** `n` copies of a pipeline, named `p<i>-...` to the given length, with or without a transformer. */
export function pipelines(n: number, steps: boolean): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `p${i}`,
    sources: ["feedback"],
    sink: "lake",
    ...(steps ? { steps: [{ drop: ["comment"] }] } : {}),
  }));
}
