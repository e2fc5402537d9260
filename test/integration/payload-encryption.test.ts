/**
 * `encryption: payload` through the local runner: Kinesis holds only ciphertext for the encrypted
 * streams, the Parquet files hold the values sent, and every failure is caused for real (a
 * tampered ciphertext or tag, a ciphertext moved to another record, an envelope whose data key was
 * made for another stream, another KMS key's data key, a disabled key) and lands under errors/
 * with its precise code, with its ciphertext and no plaintext, while its neighbours are delivered.
 * The bad envelopes are put on the stream directly with PutRecords, as an attacker or a broken
 * writer would; they are sealed the way ingest seals, under data keys KMS generated.
 */
import assert from "node:assert/strict";
import { createSecretKey } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GenerateDataKeyCommand,
} from "@aws-sdk/client-kms";
import {
  type DataKey,
  openPayload,
  payloadAad,
  payloadEncryptionContext,
  payloadSealer,
  type SealedPayload,
} from "../../functions/core/crypto/index.ts";
import { envelopeEncoder } from "../../functions/core/envelope.ts";
import { newRecordId } from "../../functions/core/record-id.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, download, duckdb, getBytes, listKeys, readStreamRecords } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const FIXTURE = "test/fixtures/manifests/payload-encryption.yaml";
const SCHEMA = { name: "sluice.feedback", version: 1 };
/** Words that appear only inside payloads: none may show on Kinesis for an encrypted stream. */
const SECRETS = ["zq-secret", "Marmalade", "Quixotic", "ultramarine", "naïve", "tamper-secret"];

let runner: LocalRunner;
let app: string;
let bucket: string;
/** The app's KMS key id (DisableKey takes no alias). */
let appKeyId: string;
/** Record id -> what was sent, for everything ingest accepted onto a delivered stream. */
const accepted = new Map<string, Record<string, unknown>>();
/** Record id -> the code it must be filed with, for every bad envelope put directly. */
const expectedErrors = new Map<string, { code: string; message: RegExp; enc: SealedPayload }>();
/** Record ids of directly put envelopes that must be delivered. */
const injectedGood = new Map<string, Record<string, unknown>>();

before(async () => {
  runner = await startTestRunner("penc", { manifestPath: FIXTURE });
  app = runner.config.app;
  bucket = runner.config.pipelines.lake!.sink.bucket;
  const described = await runner.clients.kms.send(new DescribeKeyCommand({ KeyId: runner.config.kmsKeyId }));
  appKeyId = described.KeyMetadata!.KeyId!;
});

after(async () => {
  await runner?.stop();
});

function secretFeedback(tag: string, i: number): Record<string, unknown> {
  return {
    customerId: `zq-secret-${tag}-${i}`,
    content: `Marmalade sky over Quixotic harbour ${i}, naïve café 😀 "quoted"`,
    category: "praise",
    isNegative: i % 2 === 0,
    tags: ["ultramarine", `t${i}`],
    rating: (i % 5) + 1,
    ts: `2026-11-23T10:${String(i % 60).padStart(2, "0")}:00Z`,
  };
}

async function post(stream: string, records: readonly { data: unknown; key?: string }[]) {
  const res = await fetch(`${runner.url}/v1/streams/${stream}/records`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeader(runner) },
    body: JSON.stringify({ records }),
  });
  const body = (await res.json()) as {
    results: { recordId: string; status: string; error?: { code: string; message: string } }[];
  };
  return { status: res.status, results: body.results };
}

let keys = 0;

/** Sends through ingest, each record with its own idempotency key, and remembers what was accepted. */
async function send(stream: string, data: Record<string, unknown>[]): Promise<string[]> {
  const { status, results } = await post(
    stream,
    data.map((d) => ({ data: d, key: `key-${keys++}` })),
  );
  assert.equal(status, 200, JSON.stringify(results.find((r) => r.status !== "accepted")));
  for (const [i, r] of results.entries()) accepted.set(r.recordId, data[i]!);
  return results.map((r) => r.recordId);
}

/** A data key from KMS for `stream`, under the app's key unless told. */
async function dataKeyFor(stream: string, keyId = runner.config.kmsKeyId): Promise<DataKey> {
  const out = await runner.clients.kms.send(
    new GenerateDataKeyCommand({
      KeyId: keyId,
      KeySpec: "AES_256",
      EncryptionContext: payloadEncryptionContext(app, stream),
    }),
  );
  return {
    kid: Buffer.from(out.CiphertextBlob!).toString("base64"),
    key: createSecretKey(Buffer.from(out.Plaintext!)),
  };
}

/** An envelope of `feedback` sealed as ingest seals it, as parsed JSON to change before putting. */
function sealedEnvelope(key: DataKey, id: string, payload: Record<string, unknown>) {
  const encode = envelopeEncoder(
    { stream: "feedback", schema: SCHEMA, rt: new Date().toISOString() },
    payloadSealer(key, "feedback", SCHEMA),
  );
  const bytes = encode(id, null, "2026-11-23T11:00:00Z", payload);
  return JSON.parse(Buffer.from(bytes).toString("utf8")) as {
    id: string;
    stream: string;
    enc: SealedPayload;
  };
}

async function putDirectly(envelopes: readonly object[]): Promise<void> {
  const out = await runner.clients.kinesis.send(
    new PutRecordsCommand({
      StreamName: runner.config.eventStream,
      Records: envelopes.map((e, i) => ({
        Data: Buffer.from(JSON.stringify(e)),
        PartitionKey: `direct-${i}`,
      })),
    }),
  );
  assert.equal(out.FailedRecordCount ?? 0, 0);
}

const flip = (b64: string, at: number) => {
  const bytes = Buffer.from(b64, "base64");
  bytes[at] = bytes[at]! ^ 0x20;
  return bytes.toString("base64");
};

interface ErrorLine {
  recordId: string | null;
  stage: string;
  code: string;
  message: string;
  payload: unknown;
  enc?: SealedPayload;
}

async function lake() {
  const keys = await listKeys(runner.clients.s3, bucket);
  const dataKeys = keys.filter((k) => k.endsWith(".parquet"));
  const dir = await download(runner.clients.s3, bucket, dataKeys);
  const rows =
    dataKeys.length === 0
      ? []
      : await duckdb<Record<string, unknown> & { _id: string }>(
          `SELECT * FROM read_parquet('${dir}/*.parquet', union_by_name = true) ORDER BY _id`,
        );
  const errorTexts: string[] = [];
  for (const key of keys.filter((k) => k.startsWith("errors/"))) {
    errorTexts.push(gunzipSync(await getBytes(runner.clients.s3, bucket, key)).toString("utf8"));
  }
  const errors = errorTexts
    .join("")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as ErrorLine);
  return {
    rows,
    errors,
    errorText: errorTexts.join(""),
    errorKeys: keys.filter((k) => k.startsWith("errors/")),
  };
}

describe("payload encryption, end to end", () => {
  test("Kinesis holds only ciphertext for the encrypted stream; Parquet holds the values; KMS throttles are retried", async () => {
    let throttled = 0;
    // KMS answering Decrypt with ThrottlingException four times: a fault the emulator cannot make on demand.
    runner.clients.kms.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "DecryptCommand" && throttled < 4) {
          throttled++;
          throw Object.assign(new Error("Rate exceeded"), {
            name: "ThrottlingException",
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: "finalizeRequest", name: "throttleDecrypt" },
    );
    const secret = Array.from({ length: 30 }, (_, i) => secretFeedback("a", i));
    const plain = Array.from({ length: 5 }, (_, i) => ({
      ...secretFeedback("p", i),
      customerId: `plain-${i}`,
      content: "plain visible text",
      tags: [],
    }));
    const secretIds = await send("feedback", secret);
    const plainIds = await send("plain", plain);
    await runner.drained(60_000);
    runner.clients.kms.middlewareStack.remove("throttleDecrypt");
    assert.equal(throttled, 4);

    const onStream = await readStreamRecords(runner.clients.kinesis, runner.config.eventStream);
    const envelopes = onStream.map((r) => ({ raw: r.data, e: JSON.parse(r.data.toString("utf8")) }));
    const encrypted = envelopes.filter(({ e }) => e.stream === "feedback");
    assert.deepEqual(
      encrypted.map(({ e }) => e.id),
      secretIds,
    );
    const ivs = new Set<string>();
    for (const { raw, e } of encrypted) {
      for (const word of SECRETS) assert.ok(!raw.toString("utf8").includes(word), `${word} on Kinesis`);
      assert.equal("data" in e, false);
      assert.deepEqual(Object.keys(e.enc), ["kid", "iv", "ct", "tag"]);
      const ct = Buffer.from(e.enc.ct, "base64");
      for (const word of SECRETS) assert.ok(!ct.includes(word), `${word} in the ciphertext`);
      ivs.add(e.enc.iv);
      // What filter criteria and tools read stays in the clear.
      assert.deepEqual([e.v, e.schema, e.key], [1, SCHEMA, `key-${secretIds.indexOf(e.id)}`]);
    }
    assert.equal(ivs.size, 30, "an IV per record");
    assert.equal(new Set(encrypted.map(({ e }) => e.enc.kid)).size, 1, "one cached data key");
    const clear = envelopes.filter(({ e }) => e.stream === "plain");
    assert.deepEqual(
      clear.map(({ e }) => [e.id, e.data.content]),
      plainIds.map((id) => [id, "plain visible text"]),
    );

    const { rows, errorKeys } = await lake();
    assert.deepEqual(errorKeys, []);
    assert.equal(rows.length, 35);
    for (const row of rows) {
      const sent = accepted.get(row._id)!;
      assert.deepEqual(
        {
          customerId: row.customerId,
          content: row.content,
          category: row.category,
          isNegative: row.isNegative,
          tags: row.tags,
          rating: Number(row.rating),
          ts: new Date(String(row.ts)).toISOString(),
        },
        { ...sent, ts: new Date(String(sent.ts)).toISOString() },
      );
    }
  });

  test("tampered, moved, other-stream, other-key and forged envelopes go to errors/ with their code; neighbours land", async () => {
    const key = await dataKeyFor("feedback");
    const good = () => newRecordId();
    const envelope = (id: string, marker: string) =>
      sealedEnvelope(key, id, secretFeedback(`tamper-secret-${marker}`, 1));

    const control = envelope(good(), "control");
    injectedGood.set(control.id, secretFeedback("tamper-secret-control", 1));

    const ct = envelope(good(), "ct");
    ct.enc = { ...ct.enc, ct: flip(ct.enc.ct, 5) };
    const tag = envelope(good(), "tag");
    tag.enc = { ...tag.enc, tag: flip(tag.enc.tag, 0) };
    const moved = envelope(good(), "moved");
    moved.id = good();
    for (const e of [ct, tag, moved]) {
      expectedErrors.set(e.id, {
        code: "DECRYPT_FAILED",
        message: /^authentication tag mismatch/,
        enc: e.enc,
      });
    }

    // Made by ingest for another stream, then claimed for this one: KMS refuses the context.
    const notesIds = await post("notes", [
      { data: secretFeedback("n", 1) },
      { data: secretFeedback("n", 2) },
    ]);
    assert.equal(notesIds.status, 200);
    const notes = (await readStreamRecords(runner.clients.kinesis, runner.config.eventStream))
      .map((r) => JSON.parse(r.data.toString("utf8")) as { id: string; stream: string; enc: SealedPayload })
      .filter((e) => e.stream === "notes");
    assert.equal(notes.length, 2);
    const otherStream = notes.map((e) => ({ ...e, stream: "feedback" }));
    for (const e of otherStream) {
      expectedErrors.set(e.id, {
        code: "KEY_UNAVAILABLE",
        message: /InvalidCiphertextException/,
        enc: e.enc,
      });
    }

    // A data key under another KMS key: the batcher decrypts only with the app's.
    const foreignKey = await runner.clients.kms.send(new CreateKeyCommand({ Description: "not the app's" }));
    const foreign = sealedEnvelope(await dataKeyFor("feedback", foreignKey.KeyMetadata!.KeyId!), good(), {});
    expectedErrors.set(foreign.id, {
      code: "KEY_UNAVAILABLE",
      message: /IncorrectKeyException/,
      enc: foreign.enc,
    });
    // A kid that is no KMS ciphertext at all.
    const forged = envelope(good(), "forged");
    forged.enc = { ...forged.enc, kid: Buffer.from("not a kms blob").toString("base64") };
    expectedErrors.set(forged.id, {
      code: "KEY_UNAVAILABLE",
      message: /InvalidCiphertextException/,
      enc: forged.enc,
    });

    await putDirectly([control, ct, tag, moved, ...otherStream, foreign, forged]);
    const neighbours = await send(
      "feedback",
      Array.from({ length: 10 }, (_, i) => secretFeedback("b", i)),
    );
    await runner.drained(60_000);

    const { rows, errors, errorText } = await lake();
    const ids = new Set(rows.map((r) => r._id));
    for (const id of [...neighbours, control.id]) assert.ok(ids.has(id), `${id} delivered`);
    assert.equal(rows.find((r) => r._id === control.id)?.customerId, "zq-secret-tamper-secret-control-1");
    for (const id of expectedErrors.keys()) assert.ok(!ids.has(id), `${id} must not be in a data file`);
    assert.deepEqual(errors.map((l) => l.recordId).sort(), [...expectedErrors.keys()].sort());
    for (const line of errors) {
      const expected = expectedErrors.get(line.recordId!)!;
      assert.equal(line.stage, "decrypt");
      assert.equal(line.code, expected.code, line.message);
      assert.match(line.message, expected.message);
      assert.equal(line.payload, null);
      assert.deepEqual(line.enc, expected.enc, "the ciphertext as received");
    }
    for (const word of SECRETS) assert.ok(!errorText.includes(word), `${word} in errors/`);
  });

  test("a disabled key: data keys the functions hold still work, a new one is refused (KEY_UNAVAILABLE at the batcher, 503 at ingest)", async () => {
    const victimPayload = secretFeedback("tamper-secret-victim", 3);
    const victim = sealedEnvelope(await dataKeyFor("feedback"), newRecordId(), victimPayload);
    expectedErrors.set(victim.id, { code: "KEY_UNAVAILABLE", message: /DisabledException/, enc: victim.enc });
    await runner.clients.kms.send(new DisableKeyCommand({ KeyId: appKeyId }));
    try {
      // Ingest's cached data key for feedback, which the batcher has opened before.
      const neighbours = await send(
        "feedback",
        Array.from({ length: 5 }, (_, i) => secretFeedback("c", i)),
      );
      // No data key yet for audit: KMS would have to make one.
      const refused = await post("audit", [{ data: secretFeedback("d", 1) }]);
      assert.equal(refused.status, 503);
      assert.deepEqual(
        [refused.results[0]!.status, refused.results[0]!.error?.code],
        ["rejected", "UNAVAILABLE"],
      );
      assert.match(refused.results[0]!.error!.message, /DisabledException/);
      await putDirectly([victim]);
      await runner.drained(60_000);
      const { rows, errors } = await lake();
      const ids = new Set(rows.map((r) => r._id));
      for (const id of neighbours) assert.ok(ids.has(id));
      assert.ok(!ids.has(victim.id));
      const line = errors.find((l) => l.recordId === victim.id);
      assert.equal(line?.code, "KEY_UNAVAILABLE");
      assert.match(line!.message, /DisabledException/);
    } finally {
      await runner.clients.kms.send(new EnableKeyCommand({ KeyId: appKeyId }));
    }
    // errors/ keeps what is needed to recover the record once the key is back.
    const { errors } = await lake();
    const line = errors.find((l) => l.recordId === victim.id)!;
    const dataKey = await runner.clients.kms.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(line.enc!.kid, "base64"),
        EncryptionContext: payloadEncryptionContext(app, "feedback"),
      }),
    );
    const recovered = openPayload(
      createSecretKey(Buffer.from(dataKey.Plaintext!)),
      line.enc!,
      payloadAad({ stream: "feedback", schema: SCHEMA, id: victim.id }),
    );
    assert.deepEqual(JSON.parse(recovered.toString("utf8")), victimPayload);
    assert.equal((await post("audit", [{ data: secretFeedback("d", 2) }])).status, 200);
  });

  test("every record is in exactly one place, and nothing on Kinesis but the clear stream shows a payload", async () => {
    const { rows, errors } = await lake();
    const inData = new Map<string, number>();
    for (const r of rows) inData.set(r._id, (inData.get(r._id) ?? 0) + 1);
    const inErrors = new Map<string, number>();
    for (const l of errors) inErrors.set(l.recordId!, (inErrors.get(l.recordId!) ?? 0) + 1);
    for (const id of [...accepted.keys(), ...injectedGood.keys()]) {
      assert.deepEqual([inData.get(id), inErrors.get(id)], [1, undefined], id);
    }
    for (const id of expectedErrors.keys())
      assert.deepEqual([inData.get(id), inErrors.get(id)], [undefined, 1], id);
    assert.equal(rows.length, accepted.size + injectedGood.size);
    assert.equal(errors.length, expectedErrors.size);
    assert.deepEqual([accepted.size, injectedGood.size, expectedErrors.size], [50, 1, 8]);

    for (const r of await readStreamRecords(runner.clients.kinesis, runner.config.eventStream)) {
      const e = JSON.parse(r.data.toString("utf8")) as { stream: string };
      if (e.stream === "plain") continue;
      for (const word of SECRETS) assert.ok(!r.data.includes(word), `${word} in a ${e.stream} record`);
    }
  });
});
