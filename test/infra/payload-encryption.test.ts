/**
 * Template assertions for payload encryption: ingest may generate data keys for exactly the
 * encrypted streams and decrypt none; each batcher may decrypt the data keys of exactly its
 * encrypted sources; both in the role's policy and in the key policy, conditioned on the encryption
 * context; nothing of it when no stream encrypts; cdk-nag clean.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { Manifest } from "../../functions/core/manifest/types.ts";
import {
  asList,
  manifestFixture,
  resourcesOf,
  type Statement,
  type Synthesized,
  statementsOf,
  synthesize,
} from "./synth.ts";

const FIXTURE = "test/fixtures/manifests/payload-encryption.yaml";
const STREAM_CONDITION = "kms:EncryptionContext:sluice:stream";
const APP_CONDITION = "kms:EncryptionContext:sluice:app";

let s: Synthesized;
let plainOnly: Synthesized;

/** The fixture with a second pipeline reading only the stream that does not encrypt. */
function withPlainPipeline(m: Manifest): Manifest {
  return {
    ...m,
    pipelines: [...m.pipelines, { ...m.pipelines[0]!, name: "plain-only", sources: ["plain"] }],
  };
}

before(() => {
  s = synthesize(withPlainPipeline(manifestFixture(FIXTURE)));
  plainOnly = synthesize("sluice.yaml");
});

const keyPolicy = (x: Synthesized): Statement[] => {
  const [[, key]] = resourcesOf(x, "AWS::KMS::Key") as [[string, Record<string, unknown>]];
  return (key.KeyPolicy as { Statement: Statement[] }).Statement;
};
const conditioned = (st: Statement) => JSON.stringify(st.Condition ?? {}).includes(STREAM_CONDITION);
const streamsOf = (st: Statement) =>
  (st.Condition as { StringEquals: Record<string, unknown> }).StringEquals[STREAM_CONDITION];
const appOf = (st: Statement) =>
  (st.Condition as { StringEquals: Record<string, unknown> }).StringEquals[APP_CONDITION];

/** The logical id of the role of the function named `functionName`. */
function roleOf(x: Synthesized, functionName: string): string {
  const [, fn] = resourcesOf(x, "AWS::Lambda::Function").find(([, p]) => p.FunctionName === functionName)!;
  return (fn.Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
}

describe("payload encryption: IAM", () => {
  test("the key policy names ingest's and the import chunks' roles for GenerateDataKey on the encrypted streams, the lake batcher's for Decrypt on its own, the tail's for Decrypt on every stream it follows", () => {
    const payload = keyPolicy(s).filter(conditioned);
    assert.equal(payload.length, 4, JSON.stringify(payload));
    const tailRole = { AWS: { "Fn::GetAtt": [roleOf(s, "penc-tail"), "Arn"] } };
    const tail = payload.find((st) => JSON.stringify(st.Principal) === JSON.stringify(tailRole))!;
    assert.deepEqual(asList(tail.Action), ["kms:Decrypt"]);
    assert.deepEqual(streamsOf(tail), ["audit", "feedback", "notes"]);
    const ingestRole = { AWS: { "Fn::GetAtt": [roleOf(s, "penc-ingest"), "Arn"] } };
    const chunkRole = { AWS: { "Fn::GetAtt": [roleOf(s, "penc-import-chunk"), "Arn"] } };
    const [generate, decrypt] = [
      payload.find(
        (st) =>
          asList(st.Action).includes("kms:GenerateDataKey") &&
          JSON.stringify(st.Principal) === JSON.stringify(ingestRole),
      )!,
      payload.find(
        (st) =>
          asList(st.Action).includes("kms:Decrypt") &&
          JSON.stringify(st.Principal) !== JSON.stringify(tailRole),
      )!,
    ];
    // Import jobs put records as ingest does: the same data keys, and no more.
    const imports = payload.find((st) => JSON.stringify(st.Principal) === JSON.stringify(chunkRole))!;
    assert.deepEqual(asList(imports.Action), ["kms:GenerateDataKey"]);
    assert.deepEqual(streamsOf(imports), ["audit", "feedback", "notes"]);
    assert.deepEqual(asList(generate.Action), ["kms:GenerateDataKey"]);
    assert.deepEqual(generate.Principal, { AWS: { "Fn::GetAtt": [roleOf(s, "penc-ingest"), "Arn"] } });
    assert.deepEqual(streamsOf(generate), ["audit", "feedback", "notes"]);
    assert.equal(appOf(generate), "penc");
    assert.deepEqual(asList(decrypt.Action), ["kms:Decrypt"]);
    assert.deepEqual(decrypt.Principal, { AWS: { "Fn::GetAtt": [roleOf(s, "penc-lake-batch"), "Arn"] } });
    assert.deepEqual(streamsOf(decrypt), ["feedback"], "not plain (clear), not notes (not its source)");
    assert.equal(appOf(decrypt), "penc");
  });

  test("the roles' own policies say the same, on the key's ARN", () => {
    const ingest = statementsOf(s, "penc-ingest").filter(conditioned);
    assert.deepEqual(
      ingest.map((st) => [asList(st.Action), streamsOf(st)]),
      [[["kms:GenerateDataKey"], ["audit", "feedback", "notes"]]],
    );
    assert.match(JSON.stringify(ingest[0]!.Resource), /DataKey.*Arn/);
    const lake = statementsOf(s, "penc-lake-batch").filter(conditioned);
    assert.deepEqual(
      lake.map((st) => [asList(st.Action), streamsOf(st)]),
      [[["kms:Decrypt"], ["feedback"]]],
    );
  });

  test("ingest cannot decrypt payload data keys: no key policy statement lets its role Decrypt directly", () => {
    const ingestRole = roleOf(s, "penc-ingest");
    const direct = keyPolicy(s).filter((st) => JSON.stringify(st.Principal ?? {}).includes(ingestRole));
    assert.deepEqual(
      direct.flatMap((st) => asList(st.Action)),
      ["kms:GenerateDataKey"],
    );
    // Its other KMS actions reach the key only through DynamoDB and Kinesis (kms:ViaService).
    const account = keyPolicy(s).find((st) => (st as { Sid?: string }).Sid === "UseThroughSluiceServices")!;
    assert.ok(JSON.stringify(account.Condition).includes("kms:ViaService"));
  });

  test("a batcher reading only clear streams, and an app without encrypted streams, get none of it", () => {
    const plainRole = roleOf(s, "penc-plain-only-batch");
    assert.ok(!keyPolicy(s).some((st) => JSON.stringify(st.Principal ?? {}).includes(plainRole)));
    assert.equal(statementsOf(s, "penc-plain-only-batch").filter(conditioned).length, 0);
    assert.equal(keyPolicy(plainOnly).filter(conditioned).length, 0);
    assert.equal(statementsOf(plainOnly, "sluice-ingest").filter(conditioned).length, 0);
    assert.equal(statementsOf(plainOnly, "sluice-feedback-lake-batch").filter(conditioned).length, 0);
  });

  test("ingest's config says which streams encrypt; cdk-nag reports nothing unacknowledged", () => {
    const [, fn] = resourcesOf(s, "AWS::Lambda::Function").find(([, p]) => p.FunctionName === "penc-ingest")!;
    const config = JSON.parse(
      (fn.Environment as { Variables: Record<string, string> }).Variables.SLUICE_CONFIG!,
    ) as {
      streams: Record<string, { encryption?: string }>;
    };
    assert.deepEqual(
      Object.entries(config.streams).map(([name, st]) => [name, st.encryption ?? "none"]),
      [
        ["feedback", "payload"],
        ["notes", "payload"],
        ["audit", "payload"],
        ["plain", "none"],
      ],
    );
    assert.deepEqual(s.violations, []);
  });
});
