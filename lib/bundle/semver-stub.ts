/**
 * Stands in for `semver` in the function bundles: its one user there is the X-Ray SDK's
 * `captureAWS`, for the AWS SDK v2, which Sluice never calls (the SDK v3 clients are captured
 * without it), and the real package is 29 KB of minified code in every bundle.
 */
export function gte(): never {
  throw new Error(
    "semver is not in Sluice's bundles: the X-Ray SDK's captureAWS (AWS SDK v2) is unsupported",
  );
}
