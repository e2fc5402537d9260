/**
 * Runs cfn-lint (the CloudFormation linter, Python; the machine image and CI have it on the PATH)
 * over synthesized templates. Missing, it fails the test that needs it with how to get it: a
 * skipped lint would pass templates CloudFormation refuses.
 */
import { spawnSync } from "node:child_process";

export interface LintFinding {
  readonly Level: "Error" | "Warning" | "Informational";
  readonly Message: string;
  readonly Filename: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path: readonly (string | number)[] };
}

/**
 * Warnings allowed, with why. W3005: CDK makes each function DependsOn its role as well as
 * referencing it, so the role's policy exists before the function is invoked (redundant, harmless).
 */
export const ALLOWED_WARNINGS: Readonly<Record<string, string>> = {
  W3005: "functions depend on their role explicitly and by GetAtt; redundant, harmless",
};

export function cfnLint(templates: readonly string[]): LintFinding[] {
  const run = spawnSync("cfn-lint", ["--format", "json", "--", ...templates], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(
      "cfn-lint is not on the PATH: install it (pip install cfn-lint==1.51.0; .ci/run does where pip can reach PyPI) and run the infra tests again",
    );
  }
  // Exit codes are a bit mask of the levels found (2 errors, 4 warnings, 8 informational); 1 is a crash.
  if (run.status === 1 || run.stdout.trim() === "") {
    throw new Error(`cfn-lint failed: ${run.stderr || run.stdout}`);
  }
  return JSON.parse(run.stdout) as LintFinding[];
}

/** Findings that fail a test: every error, and warnings not in ALLOWED_WARNINGS. */
export function unacceptable(findings: readonly LintFinding[]): string[] {
  return findings
    .filter((f) => f.Level === "Error" || (f.Level === "Warning" && !(f.Rule.Id in ALLOWED_WARNINGS)))
    .map((f) => `${f.Filename} ${f.Rule.Id} ${f.Location.Path.join("/")}: ${f.Message}`);
}
