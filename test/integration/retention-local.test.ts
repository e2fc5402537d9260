/**
 * Retention under the local runner (what `npm start` provisions): the embedded S3 stores the
 * per-stream lifecycle rules the manifest declares and returns them, and answers the lifecycle
 * calls as S3 does for a missing configuration, a missing bucket and a malformed one. The rules
 * are stored, not executed: nothing expires locally.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import {
  CreateBucketCommand,
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
} from "@aws-sdk/client-s3";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import { retentionRules } from "../../functions/core/streams/retention.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { uniqueApp } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

/** sluice.yaml with retention on its stream, as a reader of the README would add it. */
function manifestWithRetention(): string {
  const text = readFileSync("sluice.yaml", "utf8")
    .replace(
      "    idempotencyTtlSeconds: 86400\n",
      "    idempotencyTtlSeconds: 86400\n    retention: { days: 30, errorDays: 90 }\n",
    )
    .replace("file: schemas/", `file: ${resolve("schemas")}/`);
  assert.match(text, /retention: \{ days: 30/);
  const path = join(mkdtempSync(join(tmpdir(), "sluice-retention-")), "sluice.yaml");
  writeFileSync(path, text);
  return path;
}

let runner: LocalRunner;
let manifestPath: string;
before(async () => {
  manifestPath = manifestWithRetention();
  runner = await startTestRunner("retain", { manifestPath, pipelines: false });
});
after(async () => {
  await runner?.stop();
});

const s3 = () => runner.clients.s3;
const bucket = () => runner.config.pipelines["feedback-lake"]!.sink.bucket;

test("the rules the local runner applies read back as the manifest declares them", async () => {
  const expected = retentionRules(loadManifest(manifestPath), "lake");
  assert.deepEqual(
    expected.map((r) => [r.prefix, r.days]),
    [
      ["feedback/", 30],
      ["errors/feedback-lake/", 90],
    ],
  );
  const out = await s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket() }));
  assert.deepEqual(
    out.Rules?.map((r) => ({
      id: r.ID,
      prefix: r.Filter?.Prefix,
      days: r.Expiration?.Days,
      status: r.Status,
    })),
    expected.map((r) => ({ id: r.id, prefix: r.prefix, days: r.days, status: "Enabled" })),
  );
  // Stored beside the bucket, not in it: the only objects are the Iceberg table's first metadata.
  const listed = await s3().send(new ListObjectsV2Command({ Bucket: bucket() }));
  const keys = (listed.Contents ?? []).map((o) => o.Key!);
  assert.ok(
    keys.every((k) => k.startsWith("_iceberg/")),
    keys.join(", "),
  );
});

test("a bucket without rules answers 404 NoSuchLifecycleConfiguration; put, get and delete round-trip", async () => {
  const name = uniqueApp("lc");
  await s3().send(new CreateBucketCommand({ Bucket: name }));
  await assert.rejects(
    s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: name })),
    (err: Error) => {
      assert.equal(err.name, "NoSuchLifecycleConfiguration");
      assert.equal((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 404);
      return true;
    },
  );
  await s3().send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: name,
      LifecycleConfiguration: {
        Rules: [
          { ID: "a", Status: "Enabled", Filter: { Prefix: "a/" }, Expiration: { Days: 3 } },
          { ID: "b", Status: "Disabled", Filter: { Prefix: "b/" }, Expiration: { Days: 9 } },
        ],
      },
    }),
  );
  const got = await s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: name }));
  assert.deepEqual(
    got.Rules?.map((r) => [r.ID, r.Status, r.Filter?.Prefix, r.Expiration?.Days]),
    [
      ["a", "Enabled", "a/", 3],
      ["b", "Disabled", "b/", 9],
    ],
  );
  // A second put replaces the first, as in S3.
  await s3().send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: name,
      LifecycleConfiguration: {
        Rules: [{ ID: "c", Status: "Enabled", Filter: { Prefix: "c/" }, Expiration: { Days: 1 } }],
      },
    }),
  );
  const replaced = await s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: name }));
  assert.deepEqual(
    replaced.Rules?.map((r) => r.ID),
    ["c"],
  );
  await s3().send(new DeleteBucketLifecycleCommand({ Bucket: name }));
  await assert.rejects(s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: name })), {
    name: "NoSuchLifecycleConfiguration",
  });
});

test("rules for a missing bucket are 404 NoSuchBucket; a rule without an action is 400 MalformedXML", async () => {
  await assert.rejects(s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: uniqueApp("none") })), {
    name: "NoSuchBucket",
  });
  await assert.rejects(
    s3().send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket(),
        LifecycleConfiguration: { Rules: [{ ID: "x", Status: "Enabled", Filter: { Prefix: "x/" } }] },
      }),
    ),
    (err: Error) => {
      assert.equal(err.name, "MalformedXML");
      assert.match(err.message, /action/);
      return true;
    },
  );
  // The refused put left the manifest's rules in place.
  const out = await s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket() }));
  assert.deepEqual(
    out.Rules?.map((r) => r.ID),
    ["retain-feedback", "retain-errors-feedback-lake"],
  );
});
