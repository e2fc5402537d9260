/**
 * No function can erase the lake: the sink bucket is versioned with previous versions kept for a
 * while, and the batcher's policy (the only writer) puts and deletes current objects under its own
 * prefixes only, never object versions, bucket settings or anything outside those prefixes.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { asList, resourcesOf, type Synthesized, statementsOf, synthesize } from "./synth.ts";

let s: Synthesized;
before(() => {
  s = synthesize("test/fixtures/manifests/three-pipelines.yaml", { stage: "dev", nag: false });
});

describe("lake protection", () => {
  test("each sink bucket is versioned and expires previous versions, not current data", () => {
    const sinks = resourcesOf(s, "AWS::S3::Bucket").filter(([, p]) => p.BucketName !== undefined);
    assert.ok(sinks.length >= 1);
    for (const [id, p] of sinks) {
      assert.deepEqual(p.VersioningConfiguration, { Status: "Enabled" }, id);
      const rules = (p.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
      const previous = rules.find((r) => r.Id === "expire-previous-versions");
      assert.deepEqual(previous?.NoncurrentVersionExpiration, { NoncurrentDays: 30 }, id);
      // Only errors/ expires as current data.
      for (const r of rules.filter((r) => r.ExpirationInDays !== undefined))
        assert.equal(r.Prefix, "errors/");
    }
  });

  test("batchers may put and delete only current objects, only under their own prefixes", () => {
    const batchers = resourcesOf(s, "AWS::Lambda::Function")
      .map(([, p]) => p.FunctionName as string | undefined)
      .filter((n): n is string => n?.endsWith("-batch") === true);
    assert.equal(batchers.length, 3);
    const forbidden =
      /^s3:(\*|DeleteObjectVersion|PutBucket|PutLifecycle|DeleteBucket|PutObjectVersion|BypassGovernance)/;
    for (const fn of batchers) {
      const s3 = statementsOf(s, fn).filter((st) => asList(st.Action).some((a) => a.startsWith("s3:")));
      assert.ok(s3.length > 0, fn);
      for (const st of s3) {
        for (const a of asList(st.Action)) assert.doesNotMatch(a, forbidden, `${fn}: ${a}`);
        assert.deepEqual(
          asList(st.Action)
            .filter((a) => a.startsWith("s3:"))
            .sort(),
          ["s3:DeleteObject", "s3:PutObject"],
        );
        for (const r of asList(st.Resource as unknown)) {
          const text = JSON.stringify(s.stack.resolve(r));
          // An object ARN under a prefix: never the bucket itself or every object in it.
          assert.match(text, /\/[^"*/][^"]*\*"/, `${fn}: ${text}`);
        }
      }
    }
  });
});
