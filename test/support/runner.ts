/** Starting the local runner for a test: a manifest under a fresh app name, test-friendly defaults. */
import { silentLogger } from "../../functions/core/logger.ts";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import {
  type LocalRunner,
  type LocalRunnerOptions,
  startLocalRunner,
} from "../../localstack/lambda/local-runner.ts";
import { endpoint, uniqueApp } from "./env.ts";

export interface TestRunnerOptions extends Partial<Omit<LocalRunnerOptions, "manifest">> {
  /** @default "sluice.yaml" */
  readonly manifestPath?: string;
}

/** A runner on a free port, quiet, polling fast, with its own stream, tables and buckets. */
export function startTestRunner(appPrefix: string, options: TestRunnerOptions = {}): Promise<LocalRunner> {
  const { manifestPath = "sluice.yaml", ...rest } = options;
  const manifest = loadManifest(manifestPath, { overrides: { name: uniqueApp(appPrefix) } });
  return startLocalRunner({
    endpoint: endpoint(),
    httpPort: 0,
    logger: silentLogger,
    pollIntervalMs: 100,
    ...rest,
    manifest,
  });
}
