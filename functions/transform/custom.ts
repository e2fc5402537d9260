/**
 * Named custom transforms, usable as `- custom: name` steps in the manifest. Register each one
 * with `register("name", fn)` in custom-transforms.ts; the manifest loader rejects names not
 * registered. Importing this module loads every registration, so `customTransformNames()` is
 * complete wherever it is called.
 */
export { type CustomTransform, customTransform, customTransformNames, register } from "./registry.ts";

import "./custom-transforms.ts";
