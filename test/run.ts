/**
 * `npm test`: starts the embedded stack once for the whole run (unless AWS_ENDPOINT_URL points
 * at one already), then runs the unit, infra, integration and faults suites with node's test runner.
 *   npm test                 everything
 *   npm test -- unit infra   only those suites
 *   npm test -- test/faults/poison.test.ts   only those files
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type EmbeddedStack, StackStartError, startEmbeddedStack } from "../localstack/stack.ts";

const SUITES = ["unit", "infra", "integration", "faults"] as const;
const root = new URL(".", import.meta.url).pathname;
const args = process.argv.slice(2);
const named = args.filter((a) => a.endsWith(".test.ts"));
const wanted = args.filter((a) => (SUITES as readonly string[]).includes(a));
const suites =
  named.length > 0
    ? SUITES.filter((s) => named.some((f) => f.includes(`test/${s}/`)))
    : wanted.length > 0
      ? wanted
      : [...SUITES];
const files =
  named.length > 0
    ? named
    : suites.flatMap((s) =>
        readdirSync(join(root, s))
          .filter((f) => f.endsWith(".test.ts"))
          .sort()
          .map((f) => join("test", s, f)),
      );

const env: NodeJS.ProcessEnv = {
  ...process.env,
  AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "test",
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "test",
  AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
};

let stack: EmbeddedStack | undefined;
if ((suites.includes("integration") || suites.includes("faults")) && !process.env.AWS_ENDPOINT_URL) {
  const started = Date.now();
  try {
    stack = await startEmbeddedStack({ port: 0 });
  } catch (err) {
    if (err instanceof StackStartError) {
      process.stderr.write(`error: ${err.message}\n${err.hint}\n`);
      process.exit(1);
    }
    throw err;
  }
  env.AWS_ENDPOINT_URL = stack.endpoint;
  process.stdout.write(`# embedded stack at ${stack.endpoint} (started in ${Date.now() - started} ms)\n`);
}

// Unit and infra files need no stack and are CPU-bound (synths, cfn-lint): two at once on the
// machine's two cores. Files that drive the emulators run one at a time, as their timings assume.
const runFiles = (batch: readonly string[], concurrency: number): Promise<number> =>
  batch.length === 0
    ? Promise.resolve(0)
    : new Promise<number>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            "--import",
            "tsx",
            "--test",
            "--test-reporter=spec",
            `--test-concurrency=${concurrency}`,
            ...batch,
          ],
          { stdio: "inherit", env },
        );
        child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
      });
const needsStack = (f: string) => f.includes("test/integration/") || f.includes("test/faults/");
const first = await runFiles(
  files.filter((f) => !needsStack(f)),
  2,
);
const second = await runFiles(files.filter(needsStack), 1);
const code = first !== 0 ? first : second;
await stack?.stop();
process.exit(code);
