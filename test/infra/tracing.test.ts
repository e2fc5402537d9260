/** Active X-Ray tracing on every function, with exactly the grant it needs and cdk-nag acknowledging its "*". */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  asList,
  resourcesOf,
  type Synthesized,
  synthesize,
  tracingStatements,
  XRAY_ACTIONS,
} from "./synth.ts";

let s: Synthesized;
before(() => {
  s = synthesize("sluice.yaml");
});

describe("SluiceStack from sluice.yaml: tracing", () => {
  test("every function traces actively", () => {
    const functions = resourcesOf(s, "AWS::Lambda::Function");
    assert.ok(functions.length >= 4, `${functions.length} functions`);
    for (const [id, fn] of functions) assert.deepEqual(fn.TracingConfig, { Mode: "Active" }, id);
  });

  test("every function's role may put trace segments and telemetry, on * alone and nothing more", () => {
    const roles = new Set(
      resourcesOf(s, "AWS::Lambda::Function").map(
        ([, fn]) => (fn.Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0],
      ),
    );
    const granted = new Set<string>();
    for (const { roles: attached, statement } of tracingStatements(s)) {
      assert.deepEqual(asList(statement.Action).map(String).sort(), [...XRAY_ACTIONS]);
      assert.deepEqual(asList(statement.Resource), ["*"]);
      assert.equal(statement.Effect, "Allow");
      for (const r of attached) granted.add((r as { Ref: string }).Ref);
    }
    assert.deepEqual([...granted].sort(), [...roles].sort());
  });

  test("cdk-nag's finding on that * is acknowledged with X-Ray's reason, and nothing else is reported", () => {
    assert.deepEqual(s.violations, []);
    const xray = s.suppressions.filter((x) => x.ruleName === "AwsSolutions-IAM5[Resource::*]");
    assert.ok(xray.length > 0);
    for (const x of xray) assert.match(x.reason, /X-Ray/);
  });
});
