/**
 * The embedded stack (or whatever AWS_ENDPOINT_URL points at, e.g. real LocalStack) speaks the
 * real wire protocols: each service is exercised with the stock AWS SDK v3 clients.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";
import {
  AlreadyExistsException,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  InvalidCiphertextException,
  KMSClient,
  NotFoundException,
} from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { NodeHttp2Handler } from "@smithy/node-http-handler";
import { AwsChunkedDecoder } from "../../localstack/aws-chunked.ts";
import { type EmbeddedStack, StackStartError, startEmbeddedStack } from "../../localstack/stack.ts";

let stack: EmbeddedStack | undefined;
let endpoint = "";

function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
}

function clientConfig() {
  return {
    region: "us-east-1",
    endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  };
}

before(
  async () => {
    if (process.env.AWS_ENDPOINT_URL) {
      endpoint = process.env.AWS_ENDPOINT_URL;
    } else {
      stack = await startEmbeddedStack({ port: 0 });
      endpoint = stack.endpoint;
    }
  },
  // The first run downloads DynamoDB Local (~55 MB).
  { timeout: 180_000 },
);

after(async () => {
  await stack?.stop();
});

test("the health endpoint reports every service running", async () => {
  const response = await fetch(`${endpoint}/_localstack/health`);
  assert.equal(response.status, 200);
  const body = (await response.json()) as { services: Record<string, string> };
  for (const service of ["kinesis", "dynamodb", "s3", "kms"]) {
    assert.match(body.services[service] ?? "", /running|available/, `${service}: ${body.services[service]}`);
  }
});

describe("Kinesis", () => {
  let kinesis: KinesisClient;
  before(() => {
    kinesis = new KinesisClient(clientConfig());
  });
  after(() => kinesis.destroy());

  test("a ~1 MiB record round-trips through PutRecords/GetRecords over the client's default HTTP/2 handler", async () => {
    // The point of this test is the h2c path through the edge: don't let a default change hide it.
    assert.ok(kinesis.config.requestHandler instanceof NodeHttp2Handler);
    const StreamName = unique("it-stream");
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    try {
      await waitUntilStreamExists({ client: kinesis, maxWaitTime: 30, minDelay: 1 }, { StreamName });
      const big = randomBytes(1024 * 1024 - 64);
      const small = Buffer.from(JSON.stringify({ hello: "world" }));
      const put = await kinesis.send(
        new PutRecordsCommand({
          StreamName,
          Records: [
            { PartitionKey: "p1", Data: big },
            { PartitionKey: "p2", Data: small },
          ],
        }),
      );
      assert.equal(put.FailedRecordCount ?? 0, 0);

      const shards = await kinesis.send(new ListShardsCommand({ StreamName }));
      const ShardId = shards.Shards?.[0]?.ShardId;
      assert.ok(ShardId);
      const iterator = await kinesis.send(
        new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: "TRIM_HORIZON" }),
      );
      const got = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }));
      const records = got.Records ?? [];
      assert.equal(records.length, 2);
      assert.ok(Buffer.from(records[0]!.Data!).equals(big), "1 MiB record bytes differ");
      assert.ok(Buffer.from(records[1]!.Data!).equals(small));
      assert.deepEqual(
        records.map((r) => r.PartitionKey),
        ["p1", "p2"],
      );
    } finally {
      await kinesis.send(new DeleteStreamCommand({ StreamName })).catch(() => {});
    }
  });
});

describe("DynamoDB", () => {
  let ddb: DynamoDBClient;
  before(() => {
    ddb = new DynamoDBClient(clientConfig());
  });
  after(() => ddb.destroy());

  test("TTL can be enabled and a failed ConditionCheck cancels the whole transaction", async () => {
    const TableName = unique("it-table");
    await ddb.send(
      new CreateTableCommand({
        TableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      }),
    );
    try {
      await waitUntilTableExists({ client: ddb, maxWaitTime: 30, minDelay: 1 }, { TableName });
      await ddb.send(
        new UpdateTimeToLiveCommand({
          TableName,
          TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
        }),
      );
      const ttl = await ddb.send(new DescribeTimeToLiveCommand({ TableName }));
      assert.equal(ttl.TimeToLiveDescription?.AttributeName, "expiresAt");
      assert.match(ttl.TimeToLiveDescription?.TimeToLiveStatus ?? "", /ENABL/);

      const expiresAt = { N: String(Math.floor(Date.now() / 1000) + 3600) };
      await assert.rejects(
        ddb.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName, Item: { pk: { S: "written" }, expiresAt } } },
              {
                ConditionCheck: {
                  TableName,
                  Key: { pk: { S: "missing" } },
                  ConditionExpression: "attribute_exists(pk)",
                },
              },
            ],
          }),
        ),
        (error: unknown) => {
          assert.ok(error instanceof TransactionCanceledException, String(error));
          assert.deepEqual(
            error.CancellationReasons?.map((r) => r.Code),
            ["None", "ConditionalCheckFailed"],
          );
          return true;
        },
      );
      const item = await ddb.send(new GetItemCommand({ TableName, Key: { pk: { S: "written" } } }));
      assert.equal(item.Item, undefined, "the Put must not apply when the transaction is cancelled");

      await ddb.send(
        new TransactWriteItemsCommand({
          TransactItems: [{ Put: { TableName, Item: { pk: { S: "written" }, expiresAt } } }],
        }),
      );
      const written = await ddb.send(new GetItemCommand({ TableName, Key: { pk: { S: "written" } } }));
      assert.equal(written.Item?.["expiresAt"]?.N, expiresAt.N);
    } finally {
      await ddb.send(new DeleteTableCommand({ TableName })).catch(() => {});
    }
  });
});

describe("S3", () => {
  let s3: S3Client;
  before(() => {
    s3 = new S3Client({ ...clientConfig(), forcePathStyle: true });
  });
  after(() => s3.destroy());

  test("a 5 MB object round-trips byte for byte", async () => {
    const Bucket = unique("it-bucket");
    await s3.send(new CreateBucketCommand({ Bucket }));
    const body = randomBytes(5 * 1024 * 1024);
    await s3.send(new PutObjectCommand({ Bucket, Key: "dir/big.bin", Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: "dir/big.bin" }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    assert.equal(bytes.length, body.length);
    assert.ok(bytes.equals(body), "object bytes differ");
  });

  test("ListObjectsV2 pages past max-keys with continuation tokens, with and without a delimiter", async () => {
    const Bucket = unique("it-bucket");
    await s3.send(new CreateBucketCommand({ Bucket }));
    const keys = ["a/1", "a/2", "b/1", "b/2", "b/3", "c", "d/1", "e"];
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }))));
    const pages = async (input: Omit<ListObjectsV2CommandInput, "Bucket">) => {
      const seen: string[][] = [];
      let token: string | undefined;
      do {
        const out = await s3.send(new ListObjectsV2Command({ Bucket, ...input, ContinuationToken: token }));
        const page = [
          ...(out.Contents ?? []).map((o) => o.Key!),
          ...(out.CommonPrefixes ?? []).map((p) => p.Prefix!),
        ];
        assert.equal(out.KeyCount, page.length);
        assert.equal(out.Contents?.[0]?.Owner, undefined, "Owner only with FetchOwner");
        seen.push(page.sort());
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
        if (out.IsTruncated) assert.ok(token, "a truncated page has a token");
      } while (token);
      return seen;
    };
    assert.deepEqual(await pages({ MaxKeys: 3 }), [
      ["a/1", "a/2", "b/1"],
      ["b/2", "b/3", "c"],
      ["d/1", "e"],
    ]);
    assert.deepEqual(await pages({ MaxKeys: 2, Prefix: "b/" }), [["b/1", "b/2"], ["b/3"]]);
    assert.deepEqual((await pages({ MaxKeys: 1000, StartAfter: "b/2" })).flat(), ["b/3", "c", "d/1", "e"]);
    // Common prefixes count towards MaxKeys, as keys do.
    assert.deepEqual(await pages({ MaxKeys: 2, Delimiter: "/" }), [["a/", "b/"], ["c", "d/"], ["e"]]);
    const owned = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1, FetchOwner: true }));
    assert.ok(owned.Contents?.[0]?.Owner?.ID, "FetchOwner returns the owner");
    await assert.rejects(
      s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: "bm90LWEtdG9rZW4=" })),
      (e: Error) => e.name === "InvalidArgument",
    );
  });

  test("a streamed upload with default checksums (aws-chunked framing) is stored without the framing", async () => {
    // Whatever AWS_REQUEST_CHECKSUM_CALCULATION says, this client sends aws-chunked bodies with a
    // trailing CRC: the edge must strip the framing as real S3 does.
    const chunked = new S3Client({
      ...clientConfig(),
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_SUPPORTED",
    });
    try {
      const Bucket = unique("it-bucket");
      await chunked.send(new CreateBucketCommand({ Bucket }));
      const body = randomBytes(300 * 1024 + 7);
      await chunked.send(
        new PutObjectCommand({
          Bucket,
          Key: "streamed.bin",
          Body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]),
          ContentLength: body.length,
        }),
      );
      const got = await chunked.send(new GetObjectCommand({ Bucket, Key: "streamed.bin" }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      assert.equal(bytes.length, body.length);
      assert.ok(bytes.equals(body), "object bytes differ");
    } finally {
      chunked.destroy();
    }
  });
});

describe("KMS", () => {
  let kms: KMSClient;
  before(() => {
    kms = new KMSClient(clientConfig());
  });
  after(() => kms.destroy());

  test("Encrypt/Decrypt by alias round-trips and enforces the encryption context", async () => {
    const key = await kms.send(new CreateKeyCommand({ Description: "sluice integration test" }));
    const keyId = key.KeyMetadata?.KeyId;
    assert.ok(keyId);
    const AliasName = `alias/${unique("it")}`;
    await kms.send(new CreateAliasCommand({ AliasName, TargetKeyId: keyId }));
    await assert.rejects(
      kms.send(new CreateAliasCommand({ AliasName, TargetKeyId: keyId })),
      AlreadyExistsException,
    );

    const described = await kms.send(new DescribeKeyCommand({ KeyId: AliasName }));
    assert.equal(described.KeyMetadata?.KeyId, keyId);

    const plaintext = Buffer.from("sluice secret ✓");
    const context = { stream: "feedback", tenant: "t-1" };
    const encrypted = await kms.send(
      new EncryptCommand({ KeyId: AliasName, Plaintext: plaintext, EncryptionContext: context }),
    );
    assert.ok(encrypted.CiphertextBlob);

    const decrypted = await kms.send(
      new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { ...context } }),
    );
    assert.ok(Buffer.from(decrypted.Plaintext!).equals(plaintext));
    assert.match(decrypted.KeyId ?? "", new RegExp(`key/${keyId}$`));

    await assert.rejects(
      kms.send(
        new DecryptCommand({
          CiphertextBlob: encrypted.CiphertextBlob,
          EncryptionContext: { ...context, tenant: "t-2" },
        }),
      ),
      InvalidCiphertextException,
    );
    await assert.rejects(
      kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob })),
      InvalidCiphertextException,
    );
  });

  test("GenerateDataKey returns a 32-byte key that Decrypt of its CiphertextBlob gives back", async () => {
    const key = await kms.send(new CreateKeyCommand({}));
    const KeyId = key.KeyMetadata?.Arn;
    assert.ok(KeyId);
    const EncryptionContext = { purpose: "parquet" };
    const dataKey = await kms.send(
      new GenerateDataKeyCommand({ KeyId, KeySpec: "AES_256", EncryptionContext }),
    );
    assert.equal(dataKey.Plaintext?.length, 32);
    const decrypted = await kms.send(
      new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob, EncryptionContext }),
    );
    assert.ok(Buffer.from(decrypted.Plaintext!).equals(Buffer.from(dataKey.Plaintext!)));

    const sealed = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId, NumberOfBytes: 16 }));
    assert.equal("Plaintext" in sealed, false);
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }));
    assert.equal(opened.Plaintext?.length, 16);
  });

  test("an unknown key or alias is a NotFoundException", async () => {
    await assert.rejects(
      kms.send(new DescribeKeyCommand({ KeyId: `alias/${unique("missing")}` })),
      NotFoundException,
    );
    await assert.rejects(
      kms.send(new EncryptCommand({ KeyId: randomUUID(), Plaintext: Buffer.from("x") })),
      NotFoundException,
    );
  });
});

test("starting on a port that is already taken fails fast with PORT_IN_USE", async () => {
  const blocker = net.createServer();
  blocker.listen(0, "127.0.0.1");
  await once(blocker, "listening");
  const address = blocker.address();
  assert.ok(address !== null && typeof address === "object");
  const started = performance.now();
  try {
    await assert.rejects(startEmbeddedStack({ port: address.port }), (error: unknown) => {
      assert.ok(error instanceof StackStartError);
      assert.equal(error.code, "PORT_IN_USE");
      assert.match(error.message, new RegExp(String(address.port)));
      assert.match(error.hint, /SLUICE_EDGE_PORT|--port/);
      return true;
    });
    // No backend was started: that alone would take seconds.
    assert.ok(performance.now() - started < 1_000, "the port must be checked before starting backends");
  } finally {
    blocker.close();
  }
});

test("the aws-chunked decoder strips signed and unsigned framing whatever the read boundaries", async () => {
  const payload = randomBytes(70_000);
  const parts = [payload.subarray(0, 65_536), payload.subarray(65_536)];
  const unsigned = Buffer.concat([
    ...parts.flatMap((p) => [Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from("\r\n")]),
    Buffer.from("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"),
  ]);
  const signed = Buffer.concat([
    ...parts.flatMap((p) => [
      Buffer.from(`${p.length.toString(16)};chunk-signature=${"a".repeat(64)}\r\n`),
      p,
      Buffer.from("\r\n"),
    ]),
    Buffer.from(`0;chunk-signature=${"b".repeat(64)}\r\n\r\n`),
  ]);
  for (const framed of [unsigned, signed]) {
    for (const step of [1, 7, 4096, framed.length]) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < framed.length; i += step) pieces.push(framed.subarray(i, i + step));
      const decoded = Buffer.concat(await Readable.from(pieces).pipe(new AwsChunkedDecoder()).toArray());
      assert.ok(decoded.equals(payload), `step ${step}`);
    }
  }
  await assert.rejects(
    Readable.from([Buffer.from("5\r\nhel")])
      .pipe(new AwsChunkedDecoder())
      .toArray(),
    /ended before the final zero-length chunk/,
  );
});
