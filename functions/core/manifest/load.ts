/**
 * Reads `sluice.yaml`, checks it against `manifest.schema.json` and the cross-references the
 * schema cannot express, and returns the typed `Manifest` with every default applied.
 * Every problem is collected with the line and column of the YAML node it concerns, so one run
 * reports everything that needs fixing.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { buildManifest, type RawManifest } from "./build.ts";
import { checkDeployLimits, type DeployTarget } from "./deploy-limits.ts";
import { formatManifestIssues, ManifestError, type ManifestIssue } from "./errors.ts";
import { checkKinds } from "./kinds.ts";
import { isRecord, SourceMap } from "./positions.ts";
import { checkFiniteNumbers } from "./prefix-checks.ts";
import { checkReferences } from "./references.ts";
import { describeFsError, displayPath, positionless, Reporter, yamlIssue } from "./report.ts";
import { reportShapeErrors } from "./shape-errors.ts";
import type { Manifest } from "./types.ts";

export type { DeployTarget } from "./deploy-limits.ts";
export { formatPath } from "./positions.ts";
export { PREFIX_PLACEHOLDERS, SET_TEMPLATES } from "./prefix-checks.ts";
export { manifestSchema } from "./shape-errors.ts";

export const DEFAULT_MANIFEST_PATH = "sluice.yaml";

export interface LoadManifestOptions {
  /** Names of the registered TypeScript transforms; `custom` steps must use one when given. */
  readonly customTransforms?: ReadonlySet<string>;
  readonly overrides?: {
    /** Replaces the app name, e.g. to give a test run its own resources. */
    readonly name?: string;
  };
  /**
   * Check what deploying needs as well (AWS name limits with this stage and region, stack
   * limits, authentication on); the local runner leaves it out.
   */
  readonly deploy?: DeployTarget;
  /** Receives findings that do not stop the load; `process.emitWarning` when absent. */
  readonly onWarning?: (warning: ManifestIssue, formatted: string) => void;
}

export interface ManifestCheck {
  /** Present when there are no errors. */
  readonly manifest?: Manifest;
  /** The manifest file as shown in messages (relative to the working directory when inside it). */
  readonly file: string;
  /** Errors, sorted by position. */
  readonly issues: readonly ManifestIssue[];
  /** Findings that do not stop the load, sorted by position. */
  readonly warnings: readonly ManifestIssue[];
}

/** Loads and validates a manifest; throws one `ManifestError` listing every error. */
export function loadManifest(
  path: string = DEFAULT_MANIFEST_PATH,
  options: LoadManifestOptions = {},
): Manifest {
  const check = checkManifest(path, options);
  const onWarning =
    options.onWarning ??
    ((_warning: ManifestIssue, formatted: string) => process.emitWarning(formatted, "SluiceManifestWarning"));
  for (const warning of check.warnings) onWarning(warning, formatManifestIssues(check.file, [warning]));
  if (check.manifest === undefined) throw new ManifestError(check.file, check.issues);
  return check.manifest;
}

/** Like `loadManifest`, but returns errors and warnings instead of throwing (for `sluice validate`). */
export function checkManifest(
  path: string = DEFAULT_MANIFEST_PATH,
  options: LoadManifestOptions = {},
): ManifestCheck {
  const absolute = resolve(path);
  const file = displayPath(absolute);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (error) {
    const issue = positionless("UNREADABLE", `cannot read the manifest: ${describeFsError(error)}`);
    return { file, issues: [issue], warnings: [] };
  }

  const lineCounter = new LineCounter();
  // merge: YAML 1.1 `<<` keys let users share blocks such as batch settings between pipelines.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const source = new SourceMap(doc, lineCounter, text);
  const report = new Reporter(source);
  for (const warning of doc.warnings) report.warnings.push(yamlIssue(warning, lineCounter, text));
  if (doc.errors.length > 0) {
    // Past a syntax error the tree is a guess; checking it would only add noise.
    for (const error of doc.errors) report.errors.push(yamlIssue(error, lineCounter, text));
    return report.result(file);
  }

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // toJS refuses alias bombs and aliases to anchors that come later.
    const message = error instanceof Error ? error.message : String(error);
    report.errors.push({ path: "", line: 1, column: 1, message, code: "YAML_SYNTAX" });
    return report.result(file);
  }
  if (data === null || data === undefined) {
    report.error(
      "MISSING_KEY",
      [],
      "the manifest is empty: it needs at least version, name, schemas and streams",
    );
    return report.result(file);
  }

  const badKinds = checkKinds(data, report);
  reportShapeErrors(data, badKinds, report);
  if (!isRecord(data)) return report.result(file);

  const schemas = checkReferences(data, absolute, report, options);
  checkFiniteNumbers(data, [], report);

  let name = typeof data.name === "string" ? data.name : "";
  const override = options.overrides?.name;
  if (override !== undefined) {
    if (NAME_PATTERN.test(override)) name = override;
    else report.error("INVALID_OVERRIDE", ["name"], `override ${JSON.stringify(override)} ${NAME_RULE}`);
  }

  if (report.errors.length > 0) return report.result(file);
  const manifest = buildManifest(data as unknown as RawManifest, name, absolute, schemas);
  if (options.deploy) {
    checkDeployLimits(manifest, options.deploy, report);
    if (report.errors.length > 0) return report.result(file);
  }
  return { ...report.result(file), manifest };
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{1,30}$/;
const NAME_RULE = "must be 2-31 lowercase letters, digits or hyphens, starting with a letter";
