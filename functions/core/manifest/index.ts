/** The manifest: its types, its JSON Schema and the loader that turns `sluice.yaml` into a `Manifest`. */
export { formatManifestIssues, ManifestError, type ManifestIssue, type ManifestIssueCode } from "./errors.ts";
export {
  checkManifest,
  DEFAULT_MANIFEST_PATH,
  type DeployTarget,
  formatPath,
  type LoadManifestOptions,
  loadManifest,
  type ManifestCheck,
  manifestSchema,
  PREFIX_PLACEHOLDERS,
  SET_TEMPLATES,
} from "./load.ts";
export type * from "./types.ts";
export { STEP_KINDS } from "./types.ts";
