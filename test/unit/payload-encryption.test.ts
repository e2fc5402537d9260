/**
 * Payload encryption without AWS: the AES-256-GCM envelope cipher, the data key caches of ingest
 * and the batcher (bounds by time and count on an injected clock), the batcher's decrypt stage and
 * the error lines it leads to. KMS is the repository's KMS emulator called in-process, so contexts,
 * disabled keys and foreign keys behave as they do against the embedded stack.
 */
import assert from "node:assert/strict";
import { createSecretKey, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { KinesisStreamRecord } from "aws-lambda";
import {
  DataKeyCache,
  DataKeyOpener,
  DataKeyUnavailable,
  IV_BYTES,
  openPayload,
  PayloadDecryptFailed,
  payloadAad,
  payloadSealer,
  type SealedPayload,
  sealPayload,
} from "../../functions/core/crypto/index.ts";
import { decodeRecords } from "../../functions/core/delivery/decode.ts";
import { decryptItems } from "../../functions/core/delivery/decrypt.ts";
import { errorObjects } from "../../functions/core/delivery/error-files.ts";
import { decodeEnvelopeHead, decodeRecordHead, envelopeEncoder } from "../../functions/core/envelope.ts";
import type { IdempotencyStore } from "../../functions/core/idempotency.ts";
import { ingestRecords } from "../../functions/core/ingest/ingest.ts";
import { parseIngestBody } from "../../functions/core/ingest/request.ts";
import { checkManifest, loadManifest } from "../../functions/core/manifest/index.ts";
import { runtimeConfig, type StreamRuntime } from "../../functions/core/runtime-config.ts";
import { compiled } from "../../functions/core/validators.ts";
import { KmsError } from "../../localstack/kms/blob.ts";
import { isKmsOperation, KmsEmulator } from "../../localstack/kms/emulator.ts";

const APP = "app";
const SCHEMA = { name: "sluice.feedback", version: 1 };
const HEAD = { stream: "feedback", schema: SCHEMA, id: "01KAR0000000000000000000AA" };

/** The KMS emulator behind the SDK's `send`, with SDK-shaped errors, counting calls by operation. */
function emulatedKms(emulator = new KmsEmulator()) {
  const calls: Record<string, number> = {};
  let fail: ((operation: string) => Error | undefined) | undefined;
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const operation = command.constructor.name.replace(/Command$/, "");
      calls[operation] = (calls[operation] ?? 0) + 1;
      const injected = fail?.(operation);
      if (injected) throw injected;
      if (!isKmsOperation(operation)) throw new Error(`unexpected ${operation}`);
      const input = Object.fromEntries(
        Object.entries(command.input).map(([k, v]) => [
          k,
          v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v,
        ]),
      );
      try {
        const out = emulator.handle(operation, input, "us-east-1");
        for (const field of ["Plaintext", "CiphertextBlob"]) {
          if (typeof out[field] === "string") out[field] = Buffer.from(out[field] as string, "base64");
        }
        return out;
      } catch (err) {
        if (!(err instanceof KmsError)) throw err;
        throw Object.assign(new Error(err.message), { name: err.type, $metadata: { httpStatusCode: 400 } });
      }
    },
  };
  const key = emulator.handle("CreateKey", {}, "us-east-1") as { KeyMetadata: { KeyId: string } };
  emulator.handle("CreateAlias", { AliasName: "alias/app", TargetKeyId: key.KeyMetadata.KeyId }, "us-east-1");
  return {
    emulator,
    kms: client as unknown as KMSClient,
    calls,
    keyId: key.KeyMetadata.KeyId,
    failWith(f: typeof fail) {
      fail = f;
    },
  };
}

const dataKey = () => ({ kid: randomBytes(98).toString("base64"), key: createSecretKey(randomBytes(32)) });
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
const flip = (b64: string, at = 0) => {
  const bytes = Buffer.from(b64, "base64");
  bytes[at] = bytes[at]! ^ 0x01;
  return bytes.toString("base64");
};

const FIXTURE = "test/fixtures/manifests/payload-encryption.yaml";

describe("encryption in the manifest", () => {
  test("a stream may set encryption: payload; the default is none; the runtime config says so only where it is on", () => {
    const manifest = loadManifest(FIXTURE);
    assert.deepEqual(
      manifest.streams.map((s) => [s.name, s.encryption]),
      [
        ["feedback", "payload"],
        ["notes", "payload"],
        ["audit", "payload"],
        ["plain", "none"],
      ],
    );
    const config = runtimeConfig(manifest, "123456789012", "eu-west-1");
    assert.equal(config.streams.feedback?.encryption, "payload");
    assert.equal("encryption" in config.streams.plain!, false);
  });

  test("anything else is refused with the choices and a suggestion, at its line", () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-penc-"));
    const path = join(dir, "sluice.yaml");
    const text = readFileSync(FIXTURE, "utf8")
      .replace("../../../schemas/feedback.v1.json", resolve("schemas/feedback.v1.json"))
      .replace("encryption: payload\n", "encryption: aes\n");
    writeFileSync(path, text);
    const { issues } = checkManifest(path);
    assert.deepEqual(
      issues.map((i) => [i.path, i.code, i.message]),
      [["streams[0].encryption", "INVALID_VALUE", 'must be one of "none", "payload"']],
    );
    assert.equal(issues[0]!.line, text.split("\n").indexOf("    encryption: aes") + 1);
  });
});

describe("the payload cipher", () => {
  test("a payload sealed under a record's AAD opens to its exact bytes, and the sealer writes the same enc", () => {
    const key = dataKey();
    const payload = '{"customerId":"c-1","content":"héllo 😀 \\"quoted\\"","n":9007199254740993}';
    const sealed = sealPayload(key, payload, payloadAad(HEAD));
    assert.equal(sealed.kid, key.kid);
    assert.equal(text(openPayload(key.key, sealed, payloadAad(HEAD))), payload);
    const viaSealer = JSON.parse(
      payloadSealer(key, HEAD.stream, HEAD.schema)(payload, HEAD.id),
    ) as SealedPayload;
    assert.deepEqual(Object.keys(viaSealer), ["kid", "iv", "ct", "tag"]);
    assert.equal(text(openPayload(key.key, viaSealer, payloadAad(HEAD))), payload);
    assert.ok(!Buffer.from(viaSealer.ct, "base64").toString("latin1").includes("customerId"));
  });

  test("the AAD is the documented JSON array", () => {
    assert.equal(
      text(payloadAad(HEAD)),
      '["sluice/enc/v1","feedback","sluice.feedback",1,"01KAR0000000000000000000AA"]',
    );
  });

  test("another record id, stream, subject or schema version fails authentication", () => {
    const key = dataKey();
    const sealed = sealPayload(key, '{"a":1}', payloadAad(HEAD));
    for (const other of [
      { ...HEAD, id: "01KAR0000000000000000000AB" },
      { ...HEAD, stream: "feedback2" },
      { ...HEAD, schema: { name: "sluice.other", version: 1 } },
      { ...HEAD, schema: { ...SCHEMA, version: 2 } },
    ]) {
      assert.throws(() => openPayload(key.key, sealed, payloadAad(other)), {
        name: "PayloadDecryptFailed",
        message: /^authentication tag mismatch/,
      });
    }
  });

  test("a changed ciphertext, tag or IV fails authentication; a wrong key too; malformed members say which", () => {
    const key = dataKey();
    const aad = payloadAad(HEAD);
    const sealed = sealPayload(key, '{"a":"some text"}', aad);
    const changed: SealedPayload[] = [
      { ...sealed, ct: flip(sealed.ct, 3) },
      { ...sealed, tag: flip(sealed.tag, 15) },
      { ...sealed, iv: flip(sealed.iv, 0) },
    ];
    for (const s of changed) assert.throws(() => openPayload(key.key, s, aad), PayloadDecryptFailed);
    assert.throws(() => openPayload(dataKey().key, sealed, aad), /authentication tag mismatch/);
    assert.throws(() => openPayload(key.key, { ...sealed, iv: "AAAA" }, aad), {
      message: "malformed enc: iv is 3 bytes, not 12",
    });
    assert.throws(() => openPayload(key.key, { ...sealed, tag: "" }, aad), {
      message: "malformed enc: tag is 0 bytes, not 16",
    });
  });

  test("every record gets a fresh 96-bit IV: 50,000 seals, across pool refills, share none", () => {
    const key = dataKey();
    const seal = payloadSealer(key, HEAD.stream, HEAD.schema);
    const ivs = new Set<string>();
    for (let i = 0; i < 50_000; i++) {
      const { iv } = JSON.parse(seal('{"a":1}', `id-${i}`)) as SealedPayload;
      assert.equal(Buffer.from(iv, "base64").length, IV_BYTES);
      ivs.add(iv);
    }
    assert.equal(ivs.size, 50_000);
  });
});

describe("ingest's data key cache", () => {
  function cache(bounds = { maxAgeMs: 1000, maxRecords: 100 }) {
    const kms = emulatedKms();
    let now = 1_000_000;
    const keys = new DataKeyCache(kms.kms, { keyId: "alias/app", app: APP, bounds, clock: () => now });
    return { kms, keys, advance: (ms: number) => (now += ms) };
  }

  test("one data key per stream, reused until it is older than the age bound", async () => {
    const { kms, keys, advance } = cache();
    const first = await keys.reserve("feedback", 10);
    assert.equal(await keys.reserve("feedback", 10), first);
    advance(999);
    assert.equal(await keys.reserve("feedback", 10), first);
    assert.notEqual(await keys.reserve("other", 10), first, "another stream, another key");
    advance(1);
    const second = await keys.reserve("feedback", 10);
    assert.notEqual(second, first);
    assert.notEqual(second.kid, first.kid);
    assert.equal(kms.calls.GenerateDataKey, 3);
  });

  test("a data key is handed out for at most maxRecords records, then a new one is made", async () => {
    const { kms, keys } = cache();
    const first = await keys.reserve("feedback", 60);
    assert.equal(await keys.reserve("feedback", 40), first, "exactly 100");
    const second = await keys.reserve("feedback", 1);
    assert.notEqual(second, first);
    // A request larger than the bound still gets a key, of its own.
    const big = await keys.reserve("feedback", 500);
    assert.notEqual(big, second);
    assert.notEqual(await keys.reserve("feedback", 1), big);
    assert.equal(kms.calls.GenerateDataKey, 4);
  });

  test("concurrent requests share one GenerateDataKey call", async () => {
    const { kms, keys } = cache();
    const got = await Promise.all(Array.from({ length: 20 }, () => keys.reserve("feedback", 5)));
    assert.equal(new Set(got).size, 1);
    assert.equal(kms.calls.GenerateDataKey, 1);
  });

  test("the kid is the KMS blob of the key, decryptable only with the app's and stream's context", async () => {
    const { kms, keys } = cache();
    const key = await keys.reserve("feedback", 1);
    const opener = new DataKeyOpener(kms.kms, { keyId: "alias/app", app: APP });
    const plaintext = await opener.open("feedback", key.kid);
    assert.deepEqual(plaintext.export(), key.key.export());
    await assert.rejects(opener.open("other", key.kid), {
      name: "DataKeyUnavailable",
      kmsError: "InvalidCiphertextException",
    });
    const otherApp = new DataKeyOpener(kms.kms, { keyId: "alias/app", app: "another-app" });
    await assert.rejects(otherApp.open("feedback", key.kid), { kmsError: "InvalidCiphertextException" });
  });

  test("KMS refusing says so by name; a throttle comes back as the SDK's error, to be retried", async () => {
    const { kms, keys } = cache();
    kms.emulator.handle("DisableKey", { KeyId: kms.keyId }, "us-east-1");
    await assert.rejects(keys.reserve("feedback", 1), (err: unknown) => {
      assert.ok(err instanceof DataKeyUnavailable);
      assert.equal(err.code, "KEY_UNAVAILABLE");
      assert.equal(err.kmsError, "DisabledException");
      return true;
    });
    kms.emulator.handle("EnableKey", { KeyId: kms.keyId }, "us-east-1");
    kms.failWith(() => Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    await assert.rejects(keys.reserve("feedback", 1), { name: "ThrottlingException" });
    kms.failWith(undefined);
    assert.ok(await keys.reserve("feedback", 1), "nothing cached from the failures");
  });
});

describe("the KMS emulator's DisableKey and EnableKey (test infrastructure)", () => {
  test("a disabled key refuses every cryptographic call by name, the state survives a restart, and EnableKey restores it", () => {
    const keysFile = join(mkdtempSync(join(tmpdir(), "sluice-kms-")), "keys.json");
    const kms = new KmsEmulator({ keysFile });
    const { KeyMetadata } = kms.handle("CreateKey", {}, "us-east-1") as { KeyMetadata: { KeyId: string } };
    const KeyId = KeyMetadata.KeyId;
    const sealed = kms.handle("Encrypt", { KeyId, Plaintext: "aGk=" }, "us-east-1");
    assert.throws(() => kms.handle("DisableKey", { KeyId: "alias/x" }, "us-east-1"), {
      type: "NotFoundException",
    });
    kms.handle("DisableKey", { KeyId }, "us-east-1");
    const again = new KmsEmulator({ keysFile });
    const state = again.handle("DescribeKey", { KeyId }, "us-east-1") as {
      KeyMetadata: Record<string, unknown>;
    };
    assert.deepEqual([state.KeyMetadata.Enabled, state.KeyMetadata.KeyState], [false, "Disabled"]);
    for (const [op, input] of [
      ["Decrypt", { CiphertextBlob: sealed.CiphertextBlob }],
      ["Encrypt", { KeyId, Plaintext: "aGk=" }],
      ["GenerateDataKey", { KeyId, KeySpec: "AES_256" }],
    ] as const) {
      assert.throws(() => again.handle(op, input, "us-east-1"), {
        type: "DisabledException",
        message: /is disabled/,
      });
    }
    again.handle("EnableKey", { KeyId }, "us-east-1");
    assert.equal(
      (
        again.handle("Decrypt", { CiphertextBlob: sealed.CiphertextBlob }, "us-east-1") as {
          Plaintext: string;
        }
      ).Plaintext,
      "aGk=",
    );
  });
});

describe("the batcher's data key cache", () => {
  test("each stream and kid is decrypted once, kept for maxAgeMs, and at most maxKeys are kept", async () => {
    const kms = emulatedKms();
    let now = 0;
    const keys = new DataKeyCache(kms.kms, { keyId: "alias/app", app: APP });
    const a = await keys.reserve("a", 1);
    const b = await keys.reserve("b", 1);
    const opener = new DataKeyOpener(kms.kms, {
      keyId: "alias/app",
      app: APP,
      maxAgeMs: 1000,
      maxKeys: 1,
      clock: () => now,
    });
    await opener.open("a", a.kid);
    await opener.open("a", a.kid);
    assert.equal(kms.calls.Decrypt, 1);
    now = 1000;
    await opener.open("a", a.kid);
    assert.equal(kms.calls.Decrypt, 2, "expired after maxAgeMs");
    await opener.open("b", b.kid);
    await opener.open("a", a.kid);
    assert.equal(kms.calls.Decrypt, 4, "one key kept: b pushed a out");
  });

  test("a data key under another KMS key is refused even where KMS could decrypt it", async () => {
    const kms = emulatedKms();
    const foreign = kms.emulator.handle("CreateKey", {}, "us-east-1") as { KeyMetadata: { KeyId: string } };
    const keys = new DataKeyCache(kms.kms, { keyId: foreign.KeyMetadata.KeyId, app: APP });
    const key = await keys.reserve("feedback", 1);
    const opener = new DataKeyOpener(kms.kms, { keyId: "alias/app", app: APP });
    await assert.rejects(opener.open("feedback", key.kid), { kmsError: "IncorrectKeyException" });
  });
});

/** A Kinesis record holding `text`. */
function kinesisRecord(envelopeText: string, n: number): KinesisStreamRecord {
  return {
    eventID: `shardId-000000000000:${1000 + n}`,
    kinesis: {
      sequenceNumber: String(1000 + n),
      partitionKey: `pk-${n}`,
      approximateArrivalTimestamp: Date.UTC(2026, 10, 23, 10) / 1000,
      data: Buffer.from(envelopeText).toString("base64"),
    },
  } as KinesisStreamRecord;
}

describe("sealed envelopes through decode, decrypt and the error files", () => {
  const rt = "2026-11-23T10:00:01Z";
  const retry = { attempts: 4, baseMs: 1, capMs: 2 };

  async function fixture() {
    const kms = emulatedKms();
    const keys = new DataKeyCache(kms.kms, { keyId: "alias/app", app: APP });
    const key = await keys.reserve("feedback", 10);
    const encode = envelopeEncoder(
      { stream: "feedback", schema: SCHEMA, rt },
      payloadSealer(key, "feedback", SCHEMA),
    );
    const envelope = (id: string, payload: string) =>
      text(encode(id, null, "2026-11-23T10:00:00Z", undefined, payload));
    const opener = new DataKeyOpener(kms.kms, { keyId: "alias/app", app: APP });
    return { kms, envelope, opener };
  }

  test("an encrypted envelope keeps every member but data in the clear, and decodes sealed", async () => {
    const { envelope } = await fixture();
    const written = envelope("id-1", '{"secret":"swordfish"}');
    assert.ok(!written.includes("swordfish"));
    const parsed = JSON.parse(written) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ["v", "id", "stream", "schema", "key", "ts", "rt", "enc"]);
    const decoded = decodeRecordHead(Buffer.from(written));
    assert.ok("sealed" in decoded);
    assert.deepEqual(decoded.sealed, parsed.enc);
    assert.equal(decoded.head.id, "id-1");
    // The plain decoder still refuses it, as it always refused envelopes without data.
    assert.throws(() => decodeEnvelopeHead(Buffer.from(written)), {
      message: "record is not a Sluice v1 envelope",
    });
  });

  test("decrypt opens good payloads; tampering is DECRYPT_FAILED, a foreign context KEY_UNAVAILABLE; neighbours pass", async () => {
    const { envelope, opener, kms } = await fixture();
    const good = envelope("good", '{"n":1}');
    const tampered = JSON.parse(envelope("tampered", '{"n":2}')) as { enc: SealedPayload };
    tampered.enc = { ...tampered.enc, ct: flip(tampered.enc.ct) };
    const moved = JSON.parse(envelope("moved", '{"n":3}')) as { id: string };
    moved.id = "moved-elsewhere";
    const otherStream = JSON.parse(envelope("other", '{"n":4}')) as { stream: string };
    otherStream.stream = "orders";
    const plain =
      '{"v":1,"id":"plain","stream":"feedback","schema":{"name":"sluice.feedback","version":1},"key":null,' +
      '"ts":"2026-11-23T10:00:00Z","rt":"2026-11-23T10:00:01Z","data":{"n":5}}';
    const texts = [good, JSON.stringify(tampered), JSON.stringify(moved), JSON.stringify(otherStream), plain];
    const { items } = decodeRecords(texts.map(kinesisRecord));
    let throttled = 0;
    kms.failWith((op) => {
      if (op !== "Decrypt" || throttled >= 2) return undefined;
      throttled++;
      return Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    });
    const out = await decryptItems(items, { keys: opener, retry });
    // Two distinct keys (feedback's, and the one claiming orders): each asked once, after the throttles.
    assert.deepEqual([throttled, kms.calls.Decrypt], [2, 4]);
    assert.deepEqual(
      out.items.map((i) => [i.envelope.id, text(i.payload), i.sealed !== undefined]),
      [
        ["good", '{"n":1}', true],
        ["plain", '{"n":5}', false],
      ],
    );
    assert.deepEqual(
      out.failures.map((f) => ["envelope" in f.item ? f.item.envelope.id : null, f.stage, f.code]),
      [
        ["tampered", "decrypt", "DECRYPT_FAILED"],
        ["moved-elsewhere", "decrypt", "DECRYPT_FAILED"],
        ["other", "decrypt", "KEY_UNAVAILABLE"],
      ],
    );
    assert.match(out.failures[0]!.message, /^authentication tag mismatch/);
    assert.match(out.failures[2]!.message, /InvalidCiphertextException/);

    // Error lines hold enc as it came, never the plaintext, even for a record that was opened.
    const files = errorObjects(
      [...out.failures, { item: out.items[0]!, stage: "convert", code: "OUT_OF_RANGE", message: "m" }],
      "lake",
      "shardId-000000000000",
      "1000",
    );
    assert.deepEqual(
      files.map((f) => f.key.split("/")[2]),
      ["decrypt", "convert"],
    );
    const written = files.map((f) => gunzipSync(f.body).toString("utf8")).join("");
    const lines = written
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { recordId: string; payload: unknown; enc?: SealedPayload });
    assert.deepEqual(
      lines.map((l) => [l.recordId, l.payload, l.enc !== undefined]),
      [
        ["tampered", null, true],
        ["moved-elsewhere", null, true],
        ["other", null, true],
        ["good", null, true],
      ],
    );
    assert.deepEqual(lines[0]!.enc, tampered.enc);
    assert.ok(!/"n":/.test(written));
  });

  test("KMS down past the retries fails the batch instead of filing its records", async () => {
    const { envelope, opener, kms } = await fixture();
    const { items } = decodeRecords([kinesisRecord(envelope("a", "{}"), 0)]);
    kms.failWith(() => Object.assign(new Error("boom"), { name: "KMSInternalException" }));
    await assert.rejects(decryptItems(items, { keys: opener, retry }), { name: "KMSInternalException" });
  });
});

describe("ingest of a stream with encryption: payload", () => {
  const stream: StreamRuntime = {
    name: "feedback",
    subject: "sluice.feedback",
    idempotencyTtlSeconds: 60,
    maxFutureSkewSeconds: 300,
    encryption: "payload",
  };
  const schema = compiled({
    subject: "sluice.feedback",
    version: 1,
    schema: { type: "object", required: ["n"], properties: { n: { type: "integer" } } },
    fingerprint: "f",
    createdAt: "",
  } as Parameters<typeof compiled>[0]);
  const validators = { latest: async () => schema, get: async () => schema } as never;
  const body = (records: unknown[]) =>
    parseIngestBody({ contentType: "application/json", body: Buffer.from(JSON.stringify({ records })) });

  function kinesis() {
    const sent: Buffer[] = [];
    const client = {
      send: async (cmd: { input: { Records?: { Data: Uint8Array }[] } }) => {
        const records = cmd.input.Records ?? [];
        for (const r of records) sent.push(Buffer.from(r.Data));
        return { Records: records.map((_, i) => ({ ShardId: "shardId-0", SequenceNumber: String(i + 1) })) };
      },
    };
    return { sent, client: client as unknown as KinesisClient };
  }

  test("validates the plaintext, then puts each payload as enc under one data key, AAD bound to its record", async () => {
    const kms = emulatedKms();
    const k = kinesis();
    const payloadKeys = new DataKeyCache(kms.kms, { keyId: "alias/app", app: APP });
    const results = await ingestRecords(
      {
        kinesis: k.client,
        eventStream: "events",
        validators,
        idempotency: {} as IdempotencyStore,
        payloadKeys,
      },
      stream,
      body([
        { data: { n: 1, note: "tangerine" } },
        { data: { n: "x" } },
        { data: { n: 3, note: "tangerine" } },
      ]),
    );
    assert.deepEqual(
      results.map((r) => [r.status, r.error?.code]),
      [
        ["accepted", undefined],
        ["rejected", "SCHEMA_VIOLATION"],
        ["accepted", undefined],
      ],
    );
    assert.equal(k.sent.length, 2);
    const opener = new DataKeyOpener(kms.kms, { keyId: "alias/app", app: APP });
    for (const [i, bytes] of k.sent.entries()) {
      assert.ok(!bytes.toString().includes("tangerine"));
      const decoded = decodeRecordHead(bytes);
      assert.ok("sealed" in decoded);
      assert.equal(decoded.head.id, results[i * 2]!.recordId);
      const key = await opener.open("feedback", decoded.sealed.kid);
      assert.deepEqual(JSON.parse(text(openPayload(key, decoded.sealed, payloadAad(decoded.head)))), {
        n: i * 2 + 1,
        note: "tangerine",
      });
    }
    assert.equal(kms.calls.GenerateDataKey, 1);
  });

  test("without a data key (KMS refuses) valid records get 503-class UNAVAILABLE and nothing is put in the clear", async () => {
    const kms = emulatedKms();
    kms.emulator.handle("DisableKey", { KeyId: kms.keyId }, "us-east-1");
    const k = kinesis();
    const results = await ingestRecords(
      {
        kinesis: k.client,
        eventStream: "events",
        validators,
        idempotency: {} as IdempotencyStore,
        payloadKeys: new DataKeyCache(kms.kms, { keyId: "alias/app", app: APP }),
      },
      stream,
      body([{ data: { n: 1 } }, { data: { n: "x" } }]),
    );
    assert.deepEqual(
      results.map((r) => [r.status, r.error?.code]),
      [
        ["rejected", "UNAVAILABLE"],
        ["rejected", "SCHEMA_VIOLATION"],
      ],
    );
    assert.match(results[0]!.error!.message, /DisabledException/);
    assert.equal(k.sent.length, 0);
  });

  test("a payload whose encrypted envelope would pass Kinesis's 1 MiB is RECORD_TOO_LARGE, its neighbour accepted", async () => {
    const kms = emulatedKms();
    const k = kinesis();
    const results = await ingestRecords(
      {
        kinesis: k.client,
        eventStream: "events",
        validators,
        idempotency: {} as IdempotencyStore,
        payloadKeys: new DataKeyCache(kms.kms, { keyId: "alias/app", app: APP }),
      },
      stream,
      body([{ data: { n: 1, pad: "x".repeat(900_000) } }, { data: { n: 2 } }]),
    );
    assert.deepEqual(
      results.map((r) => [r.status, r.error?.code]),
      [
        ["rejected", "RECORD_TOO_LARGE"],
        ["accepted", undefined],
      ],
    );
    assert.match(results[0]!.error!.message, /with the payload encrypted/);
  });
});
