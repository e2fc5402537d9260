/** The SluiceError a call throws, for tests of what is refused and why. */
import assert from "node:assert/strict";
import { SluiceError } from "../../functions/core/errors.ts";

export function refused(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SluiceError, `expected SluiceError, got ${err}`);
    return err;
  }
  assert.fail("expected the request to be refused");
}
