/**
 * What the manifest loader reports: every problem at once, each with the manifest position a
 * person can jump to, so one `sluice validate` run is enough to fix a file.
 */

/** Stable, machine-readable kinds of manifest problems. */
export type ManifestIssueCode =
  /** The manifest file cannot be read. */
  | "UNREADABLE"
  /** YAML syntax: bad indentation, duplicate keys, tabs, unclosed brackets. */
  | "YAML_SYNTAX"
  | "UNKNOWN_KEY"
  | "MISSING_KEY"
  | "INVALID_TYPE"
  | "OUT_OF_RANGE"
  /** Wrong enum/const value, pattern mismatch, empty or duplicated list items. */
  | "INVALID_VALUE"
  /** A transform step or filter condition without exactly one kind key. */
  | "STEP_KIND"
  | "DUPLICATE_NAME"
  /** A stream, schema or sink name that nothing declares. */
  | "UNKNOWN_REFERENCE"
  /** A schema file that is missing, not JSON, or not a JSON Schema ajv can compile. */
  | "SCHEMA_FILE"
  | "UNKNOWN_TRANSFORM"
  | "INVALID_REGEX"
  | "INVALID_TEMPLATE"
  /** A sink prefix placeholder that is unknown, malformed or has nothing to fill it. */
  | "PREFIX_PLACEHOLDER"
  /** A field named by the manifest that the stream's schema does not declare. */
  | "UNDECLARED_FIELD"
  /** A setting that has no effect where it is written. */
  | "IGNORED_SETTING"
  | "INVALID_OVERRIDE"
  /** A name, size or count over an AWS limit once deployed (deploy-limits.ts). */
  | "DEPLOY_LIMIT"
  /** Authentication off in a manifest being deployed. */
  | "AUTH_OFF"
  /** A Parquet sink whose Glue table location would include errors/, in a manifest being deployed. */
  | "LAKE_LOCATION"
  /** A JWT setting API Gateway's JWT authorizer cannot use, in a manifest being deployed. */
  | "AUTH_GATEWAY_JWT";

export interface ManifestIssue {
  /** Where in the manifest, e.g. `pipelines[0].batch.size`; "" for the whole document. */
  readonly path: string;
  /** 1-based; 0 when the issue has no position (the file cannot be read). */
  readonly line: number;
  /** 1-based; 0 when the issue has no position. */
  readonly column: number;
  /** One human sentence without the position, e.g. `must be <= 10000`. */
  readonly message: string;
  readonly code: ManifestIssueCode;
}

/** One line per issue: `sluice.yaml:12:5 pipelines[0].batch.size: must be <= 10000`. */
export function formatManifestIssues(file: string, issues: readonly ManifestIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.line > 0 ? `${file}:${issue.line}:${issue.column}` : file;
      return issue.path === "" ? `${where} ${issue.message}` : `${where} ${issue.path}: ${issue.message}`;
    })
    .join("\n");
}

/** Thrown by `loadManifest` with every error found; `message` lists them one per line. */
export class ManifestError extends Error {
  override readonly name = "ManifestError";
  /** The manifest file as shown in `message` (relative to the working directory when inside it). */
  readonly file: string;
  readonly issues: readonly ManifestIssue[];

  constructor(file: string, issues: readonly ManifestIssue[]) {
    super(formatManifestIssues(file, issues));
    this.file = file;
    this.issues = issues;
  }
}
