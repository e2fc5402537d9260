/**
 * `npm run bench -- ingest [--records N] [--batch 500] [--rounds 5] [--ndjson] [--no-keys] [--patterns]
 * [--no-encryption]`: the ingest core on one core (parse, validate, idempotency bookkeeping,
 * envelope, serialize), with Kinesis, DynamoDB and KMS answered at the client boundary, beside the
 * JSON.parse + JSON.stringify floor for the same request bodies in the same run. Target: at least
 * 0.5 of the floor.
 *
 * Unless `--no-encryption` (or `--patterns`), the same core with `encryption: payload` on the
 * stream runs interleaved with it, and the cost of encryption is reported as encrypted / plain,
 * with the envelope sizes on Kinesis (KMS's CiphertextBlob of an AES-256 data key is 184 bytes,
 * modelled here, base64 in every envelope's `kid`).
 *
 * `--patterns` gives feedback.v1 two `pattern`s and measures it twice in the same run: served as
 * written (before the regex safeguard) and as registered through it (after). Target: after is
 * within a few percent of before.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { AwsClients } from "../../functions/core/aws-clients.ts";
import { silentLogger } from "../../functions/core/logger.ts";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import type { RuntimeConfig } from "../../functions/core/runtime-config.ts";
import { parseSchemaRegistration } from "../../functions/core/schema-registration.ts";
import { schemaFingerprint } from "../../functions/core/schema-registry.ts";
import { createIngestApp } from "../../functions/ingest/app.ts";
import { generateFeedback } from "./generate.ts";

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

const schema = JSON.parse(
  readFileSync(new URL("../../schemas/feedback.v1.json", import.meta.url), "utf8"),
) as JsonSchema & { properties: Record<string, JsonSchema> };

/** feedback.v1 with the kind of patterns producers' schemas carry; every generated record matches. */
const withPatterns: JsonSchema = {
  ...schema,
  properties: {
    ...schema.properties,
    customerId: { ...schema.properties.customerId, pattern: "^cus_[0-9]{6}$" },
    tags: { ...schema.properties.tags, items: { type: "string", pattern: "^[a-z][a-z-]*$" } },
  },
};

/** Bytes Kinesis was sent, per clients instance. */
interface Sent {
  records: number;
  bytes: number;
}

/** Clients whose `send` answers like the services would, without leaving the process. */
function boundaryClients(schema: JsonSchema, sent: Sent = { records: 0, bytes: 0 }): AwsClients {
  let seq = 0n;
  const kinesis = {
    send: async (cmd: { constructor: { name: string }; input: { Records?: { Data: Uint8Array }[] } }) => {
      for (const r of cmd.input.Records ?? []) {
        sent.records++;
        sent.bytes += r.Data.byteLength;
      }
      return {
        Records: (cmd.input.Records ?? []).map(() => ({
          ShardId: "shardId-000000000000",
          SequenceNumber: String(++seq),
        })),
        FailedRecordCount: 0,
      };
    },
  };
  // GenerateDataKey as KMS answers it: a 256-bit key and its 184-byte CiphertextBlob.
  const kms = {
    send: async () => ({ Plaintext: randomBytes(32), CiphertextBlob: randomBytes(184) }),
  };
  const item = {
    subject: "sluice.feedback",
    version: 1,
    schema: JSON.stringify(schema),
    fingerprint: schemaFingerprint(schema),
    createdAt: "",
  };
  const dynamo = {
    send: async (cmd: { constructor: { name: string } }) => {
      switch (cmd.constructor.name) {
        case "QueryCommand":
          return { Items: [item] };
        case "BatchGetCommand":
          return { Responses: {}, UnprocessedKeys: {} };
        case "BatchWriteCommand":
          return { UnprocessedItems: {} };
        default:
          return {};
      }
    },
  };
  return { kinesis, kinesisPut: kinesis, dynamo, kms } as unknown as AwsClients;
}

const config: RuntimeConfig = {
  app: "bench",
  eventStream: "bench-events",
  tables: { idempotency: "i", checkpoints: "c", schemas: "s", apiKeys: "k" },
  kmsKeyId: "alias/bench",
  // Per request, not per record, and cached: left out of a per-record measure.
  auth: { apiKeys: false },
  streams: {
    feedback: {
      name: "feedback",
      subject: "sluice.feedback",
      eventTimeField: "ts",
      partitionKey: "customerId",
      idempotencyTtlSeconds: 86_400,
      maxFutureSkewSeconds: 300,
    },
  },
  pipelines: {},
} as unknown as RuntimeConfig;

/** The same stream with `encryption: payload`. */
const encryptedConfig: RuntimeConfig = {
  ...config,
  streams: { feedback: { ...config.streams.feedback!, encryption: "payload" } },
};

function event(body: string, contentType: string): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "POST /v1/streams/{stream}/records",
    rawPath: "/v1/streams/feedback/records",
    rawQueryString: "",
    headers: { "content-type": contentType },
    pathParameters: { stream: "feedback" },
    body,
    isBase64Encoded: false,
    requestContext: { requestId: "bench", http: { method: "POST" } },
  } as unknown as APIGatewayProxyEventV2;
}

export async function benchIngest(args: string[]): Promise<void> {
  const total = option(args, "records", 100_000);
  const batch = option(args, "batch", 500);
  const rounds = option(args, "rounds", 5);
  const records = generateFeedback(total, 7).map((r) => ({ ...r, ts: "2026-11-23T10:00:00Z" }));
  const ndjson = args.includes("--ndjson");
  const keyed = !args.includes("--no-keys");
  const bodies: string[] = [];
  for (let i = 0; i < records.length; i += batch) {
    const slice = records.slice(i, i + batch);
    bodies.push(
      ndjson
        ? slice.map((data) => JSON.stringify(data)).join("\n")
        : JSON.stringify({
            records: slice.map((data, j) => (keyed ? { data, key: `k-${i + j}` } : { data })),
          }),
    );
  }
  const bytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
  const patterns = args.includes("--patterns");
  const encryption = !patterns && !args.includes("--no-encryption");
  const sent = { plain: { records: 0, bytes: 0 }, encrypted: { records: 0, bytes: 0 } };
  const appFor = (s: JsonSchema, c = config, counted?: Sent) =>
    createIngestApp({ config: c, clients: boundaryClients(s, counted), logger: silentLogger });
  // Auth, when configured, would look keys up; the bench measures the record path.
  let registrationMs = 0;
  const apps: { name: string; app: ReturnType<typeof createIngestApp> }[] = [];
  if (patterns) {
    const started = performance.now();
    const registered = parseSchemaRegistration(
      JSON.stringify({ name: "feedback", namespace: "sluice", schema: withPatterns }),
    );
    registrationMs = performance.now() - started;
    apps.push({ name: "sluice, 2 patterns, as written (before)", app: appFor(withPatterns) });
    apps.push({ name: "sluice, 2 patterns, registered (after)", app: appFor(registered.schema) });
  } else {
    apps.push({ name: "sluice ingest core", app: appFor(schema, config, sent.plain) });
    if (encryption) {
      apps.push({
        name: "sluice ingest core, encryption: payload",
        app: appFor(schema, encryptedConfig, sent.encrypted),
      });
    }
  }
  const floor = ndjson
    ? () => {
        for (const body of bodies) for (const line of body.split("\n")) JSON.stringify(JSON.parse(line));
      }
    : () => {
        for (const body of bodies) {
          const parsed = JSON.parse(body) as { records: { data: unknown }[] };
          for (const r of parsed.records) JSON.stringify(r.data);
        }
      };
  const sluice = async (app: ReturnType<typeof createIngestApp>) => {
    for (const body of bodies) {
      const res = await app(event(body, ndjson ? "application/x-ndjson" : "application/json"));
      if (res.statusCode !== 200)
        throw new Error(`unexpected ${res.statusCode}: ${String(res.body).slice(0, 200)}`);
    }
  };
  floor();
  for (const { app } of apps) await sluice(app);
  const times = { floor: [] as number[], apps: apps.map(() => [] as number[]) };
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    floor();
    times.floor.push(performance.now() - t);
    // Every other round in reverse, so neither app always runs in the other's garbage.
    const order = [...apps.keys()];
    for (const i of r % 2 === 0 ? order : order.reverse()) {
      t = performance.now();
      await sluice(apps[i]!.app);
      times.apps[i]!.push(performance.now() - t);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const row = (name: string, ms: number) => ({
    name,
    recordsPerSecond: Math.round(total / (ms / 1000)),
    microsPerRecord: Number(((ms * 1000) / total).toFixed(2)),
    mbPerSecond: Number((bytes / 1e6 / (ms / 1000)).toFixed(1)),
  });
  const results = [
    row("JSON.parse + JSON.stringify (floor)", median(times.floor)),
    ...apps.map(({ name }, i) => row(name, median(times.apps[i]!))),
  ];
  console.log(
    `ingest bench (${ndjson ? "NDJSON" : `JSON batch${keyed ? ", idempotency keys" : ""}`}): ${total} feedback.v1 records (${Math.round(bytes / total)} B each in the request), batches of ${batch}, median of ${rounds}, one core`,
  );
  console.table(results);
  const ratio = results[patterns ? 2 : 1]!.recordsPerSecond / results[0]!.recordsPerSecond;
  console.log(`sluice / floor = ${ratio.toFixed(2)} (target >= 0.5)`);
  const cost = encryption ? results[2]!.recordsPerSecond / results[1]!.recordsPerSecond : undefined;
  const envelopeBytes = {
    plain: Math.round(sent.plain.bytes / Math.max(1, sent.plain.records)),
    encrypted: Math.round(sent.encrypted.bytes / Math.max(1, sent.encrypted.records)),
  };
  if (cost !== undefined) {
    console.log(
      `encrypted / plain = ${cost.toFixed(2)} (records per second, the same bodies); envelopes on Kinesis ` +
        `${envelopeBytes.plain} B plain, ${envelopeBytes.encrypted} B encrypted (+${envelopeBytes.encrypted - envelopeBytes.plain} B, ` +
        `${(envelopeBytes.encrypted / envelopeBytes.plain).toFixed(2)}x)`,
    );
  }
  const safeguard = patterns ? results[2]!.recordsPerSecond / results[1]!.recordsPerSecond : undefined;
  if (safeguard !== undefined) {
    console.log(
      `after / before = ${safeguard.toFixed(3)} (target: within a few percent of 1); the safeguard took ${registrationMs.toFixed(0)} ms at registration`,
    );
  }
  console.log(
    JSON.stringify({
      bench: "ingest",
      format: ndjson ? "ndjson" : "json",
      keyed,
      records: total,
      batch,
      results,
      ratio: Number(ratio.toFixed(3)),
      ...(cost === undefined ? {} : { encryption: { ratio: Number(cost.toFixed(3)), envelopeBytes } }),
      ...(safeguard === undefined
        ? {}
        : {
            patterns: true,
            safeguard: Number(safeguard.toFixed(3)),
            registrationMs: Math.round(registrationMs),
          }),
    }),
  );
}
