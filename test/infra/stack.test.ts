/** Template assertions on the stack synthesized, bundled and cdk-nag-checked, from the shipped manifest. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { deflateRawSync } from "node:zlib";
import { Match } from "aws-cdk-lib/assertions";
import { API_ROUTES, TAIL_ROUTE } from "../../functions/ingest/routes.ts";
import { LAMBDA_ENVIRONMENT_LIMIT_BYTES } from "../../lib/runtime-env.ts";
import {
  ACCOUNT,
  actionsOn,
  asList,
  identityStatements,
  permissionLines,
  REGION,
  resourcesFor,
  resourcesOf,
  type Statement,
  type Synthesized,
  statementsOf,
  synthesize,
} from "./synth.ts";

let s: Synthesized;
/** The quick start with a plain Parquet sink: the catalog of prefix-partitioned files. */
let parquet: Synthesized;
const getAtt = (logicalId: string) => ({ "Fn::GetAtt": [logicalId, "Arn"] });
const idOf = (type: string, match: (p: Record<string, unknown>) => boolean = () => true) => {
  const found = resourcesOf(s, type).filter(([, p]) => match(p));
  assert.equal(found.length, 1, `exactly one ${type}`);
  return found[0]![0];
};
const keyId = () => idOf("AWS::KMS::Key");

before(() => {
  s = synthesize("sluice.yaml", { bundle: true });
  parquet = synthesize("test/fixtures/manifests/parquet-sink.yaml", { nag: false });
});

describe("SluiceStack from sluice.yaml: data at rest", () => {
  test("the data key rotates, and its policy lets the account administer it and use it only through Sluice's services", () => {
    const [, key] = resourcesOf(s, "AWS::KMS::Key")[0]!;
    assert.equal(key.EnableKeyRotation, true);
    const statements = (key.KeyPolicy as { Statement: Statement[] }).Statement;
    for (const st of statements) {
      for (const action of asList(st.Action)) assert.ok(!action.includes("*"), `key policy action ${action}`);
    }
    const usage = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];
    for (const st of statements) {
      const grantsUse = asList(st.Action).some((a) => usage.includes(a));
      if (!grantsUse) continue;
      const conditions = JSON.stringify(st.Condition ?? {});
      assert.ok(
        conditions.includes("kms:ViaService") ||
          conditions.includes("kms:EncryptionContext:aws:sns:topicArn"),
        `usage statement ${JSON.stringify(st)} is scoped`,
      );
    }
    const cloudwatch = statements.find((st) =>
      JSON.stringify(st.Principal).includes("cloudwatch.amazonaws.com"),
    );
    assert.ok(JSON.stringify(cloudwatch?.Condition).includes(`:sns:${REGION}:${ACCOUNT}:sluice-alarms`));
  });

  test("five tables, on demand, PITR, encrypted with the data key, retained; idempotency has TTL", () => {
    s.template.resourceCountIs("AWS::DynamoDB::Table", 5);
    for (const name of [
      "sluice-idempotency",
      "sluice-checkpoints",
      "sluice-schemas",
      "sluice-api-keys",
      "sluice-control",
    ]) {
      s.template.hasResource("AWS::DynamoDB::Table", {
        DeletionPolicy: "Retain",
        Properties: Match.objectLike({
          TableName: name,
          BillingMode: "PAY_PER_REQUEST",
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true, SSEType: "KMS", KMSMasterKeyId: getAtt(keyId()) },
        }),
      });
    }
    s.template.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: "sluice-idempotency",
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
    });
  });

  test("the event stream is encrypted with the data key, on demand, 24 h retention", () => {
    s.template.hasResourceProperties("AWS::Kinesis::Stream", {
      Name: "sluice-events",
      StreamEncryption: { EncryptionType: "KMS", KeyId: getAtt(keyId()) },
      StreamModeDetails: { StreamMode: "ON_DEMAND" },
      RetentionPeriodHours: 24,
    });
  });

  test("the sink bucket: SSE-KMS with a bucket key, no public access, access-logged, errors expire", () => {
    s.template.hasResourceProperties("AWS::S3::Bucket", {
      BucketName: `sluice-lake-${ACCOUNT}-${REGION}`,
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: getAtt(keyId()) },
          },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue() },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: "errors/", ExpirationInDays: 30, Status: "Enabled" }),
        ]),
      },
    });
  });

  test("every bucket refuses requests without TLS and blocks public access", () => {
    const buckets = resourcesOf(s, "AWS::S3::Bucket");
    assert.equal(buckets.length, 3, "the sink, its access-log bucket and Athena's results");
    for (const [id, props] of buckets) {
      assert.deepEqual(props.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      s.template.hasResourceProperties("AWS::S3::BucketPolicy", {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Deny",
              Action: "s3:*",
              Principal: { AWS: "*" },
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            }),
          ]),
        },
      });
    }
  });

  test("only S3 log delivery, for the sink bucket, may write the access-log bucket", () => {
    s.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Allow",
            Principal: { Service: "logging.s3.amazonaws.com" },
            Action: "s3:PutObject",
            Condition: Match.objectLike({ ArnLike: { "aws:SourceArn": Match.anyValue() } }),
          }),
        ]),
      },
    });
  });

  test("the dead-letter queue and the alarm topic are encrypted with the data key and TLS only", () => {
    s.template.hasResourceProperties("AWS::SQS::Queue", { KmsMasterKeyId: getAtt(keyId()) });
    s.template.hasResourceProperties("AWS::SNS::Topic", {
      TopicName: "sluice-alarms",
      KmsMasterKeyId: getAtt(keyId()),
    });
    for (const type of ["AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"]) {
      s.template.hasResourceProperties(type, {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          ]),
        },
      });
    }
  });
});

describe("SluiceStack from sluice.yaml: the catalog", () => {
  test("the quick-start lake is an Iceberg table in the Glue catalog, with the registered columns", () => {
    s.template.hasResourceProperties("AWS::Glue::Database", { DatabaseInput: { Name: "sluice" } });
    const tables = resourcesOf(s, "AWS::Glue::Table");
    assert.equal(tables.length, 1);
    const input = tables[0]![1].TableInput as {
      Name: string;
      Parameters: Record<string, string>;
      StorageDescriptor: { Columns: { Name: string }[]; Location: unknown };
    };
    assert.equal(input.Name, "lake");
    assert.equal(input.Parameters.table_type, "ICEBERG");
    assert.equal(JSON.stringify(input.StorageDescriptor.Location).includes("/_iceberg/lake"), true);
    assert.deepEqual(input.StorageDescriptor.Columns.map((c) => c.Name).slice(0, 4), [
      "_id",
      "_event_time",
      "_receive_time",
      "_schema_version",
    ]);
  });
});

describe("SluiceStack with a plain Parquet sink (parquet-sink.yaml): the catalog", () => {
  test("a Glue table over the sink with the columns the batcher writes", () => {
    parquet.template.hasResourceProperties("AWS::Glue::Database", { DatabaseInput: { Name: "sluice" } });
    const [, table] = resourcesOf(parquet, "AWS::Glue::Table")[0]!;
    const input = table.TableInput as {
      StorageDescriptor: {
        Columns: { Name: string; Type: string }[];
        SerdeInfo: { SerializationLibrary: string };
      };
      PartitionKeys: { Name: string }[];
      Parameters: Record<string, string>;
    };
    assert.deepEqual(
      input.StorageDescriptor.Columns.map((c) => `${c.Name} ${c.Type}`),
      [
        "_id string",
        "_event_time timestamp",
        "_receive_time timestamp",
        "_schema_version int",
        "customerId string",
        "content string",
        "category string",
        "isNegative boolean",
        "tags array<string>",
        "rating bigint",
        "ts timestamp",
        "_extra string",
      ],
    );
    assert.equal(
      input.StorageDescriptor.SerdeInfo.SerializationLibrary,
      "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    );
    assert.deepEqual(
      input.PartitionKeys.map((k) => k.Name),
      ["stream", "dt", "hr"],
    );
  });

  test("partitions are projected from the prefix template, so new data is queryable at once", () => {
    const [, table] = resourcesOf(parquet, "AWS::Glue::Table")[0]!;
    const params = (table.TableInput as { Parameters: Record<string, string> }).Parameters;
    assert.deepEqual(params, {
      classification: "parquet",
      EXTERNAL: "TRUE",
      "projection.enabled": "true",
      "projection.stream.type": "enum",
      "projection.stream.values": "feedback",
      "projection.dt.type": "date",
      "projection.dt.format": "yyyy-MM-dd",
      "projection.dt.range": "NOW-3YEARS,NOW+1DAYS",
      "projection.dt.interval": "1",
      "projection.dt.interval.unit": "DAYS",
      "projection.hr.type": "integer",
      "projection.hr.range": "0,23",
      "projection.hr.digits": "2",
      "storage.location.template": `s3://sluice-lake-${ACCOUNT}-${REGION}/\${stream}/dt=\${dt}/hr=\${hr}/`,
    });
  });
});

describe("SluiceStack from sluice.yaml: the ingest API", () => {
  test("every route but the tail is on the API, with auth left to the functions", () => {
    // HTTP APIs do not stream: the tail has its own function URL (test/infra/read-path.test.ts).
    const deployed = API_ROUTES.filter((r) => r !== TAIL_ROUTE);
    s.template.resourceCountIs("AWS::ApiGatewayV2::Route", deployed.length);
    for (const routeKey of deployed) {
      s.template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
        RouteKey: routeKey,
        AuthorizationType: "NONE",
        Target: Match.anyValue(),
      });
    }
    s.template.resourceCountIs("AWS::ApiGatewayV2::Authorizer", 0);
  });

  test("the stage throttles and writes JSON access logs without headers or bodies", () => {
    const [, stage] = resourcesOf(s, "AWS::ApiGatewayV2::Stage")[0]!;
    assert.deepEqual(stage.DefaultRouteSettings, { ThrottlingBurstLimit: 2000, ThrottlingRateLimit: 1000 });
    const logs = stage.AccessLogSettings as { DestinationArn: unknown; Format: string };
    const format = JSON.parse(logs.Format) as Record<string, string>;
    assert.equal(format.requestId, "$context.requestId");
    assert.equal(format.status, "$context.status");
    assert.ok(!/header|body|authorizer|querystring/i.test(logs.Format), logs.Format);
    const accessLogs = [...s.paths].find(([, path]) => path.endsWith("/Ingest/AccessLogs/Resource"));
    assert.deepEqual(logs.DestinationArn, getAtt(accessLogs![0]));
  });
});

describe("SluiceStack from sluice.yaml: the pipeline", () => {
  test("the mapping feeds the batcher its source streams with every setting of the manifest", () => {
    const [, mapping] = resourcesOf(s, "AWS::Lambda::EventSourceMapping")[0]!;
    assert.deepEqual(mapping, {
      FunctionName: {
        Ref: idOf("AWS::Lambda::Function", (p) => p.FunctionName === "sluice-feedback-lake-batch"),
      },
      EventSourceArn: getAtt(idOf("AWS::Kinesis::Stream")),
      StartingPosition: "TRIM_HORIZON",
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 2,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: {
        // The pipeline's dead-letter queue (the import chunks' queues have names).
        OnFailure: { Destination: getAtt(idOf("AWS::SQS::Queue", (p) => p.QueueName === undefined)) },
      },
      FilterCriteria: { Filters: [{ Pattern: '{"data":{"stream":["feedback"]}}' }] },
      MetricsConfig: { Metrics: ["EventCount"] },
    });
  });

  test("no transformer is deployed for a pipeline without steps", () => {
    const names = resourcesOf(s, "AWS::Lambda::Function").map(
      ([, p]) => p.FunctionName ?? "(schema registration)",
    );
    assert.deepEqual(names.sort(), [
      "(schema registration)",
      "sluice-admin",
      "sluice-feedback-lake-batch",
      "sluice-import-chunk",
      "sluice-imports",
      "sluice-ingest",
      "sluice-lake-commit",
      "sluice-query",
      "sluice-registry",
      "sluice-tail",
    ]);
  });
});

describe("SluiceStack from sluice.yaml: functions", () => {
  test("every function is ARM64 on Node.js 22 with its own role and log group, and logs source-mapped stacks", () => {
    const fns = resourcesOf(s, "AWS::Lambda::Function");
    const roles = new Set<string>();
    for (const [, fn] of fns) {
      assert.deepEqual(fn.Architectures, ["arm64"]);
      assert.equal(fn.Runtime, "nodejs22.x");
      assert.equal(fn.Handler, "index.handler");
      roles.add(JSON.stringify(fn.Role));
      assert.ok((fn.LoggingConfig as { LogGroup?: unknown }).LogGroup);
      const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
      assert.equal(env.NODE_OPTIONS, "--enable-source-maps");
    }
    assert.equal(roles.size, fns.length);
  });

  test("each function's environment fits Lambda's 4 KB and carries only its own slice of the config", () => {
    for (const [, fn] of resourcesOf(s, "AWS::Lambda::Function")) {
      const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
      const bytes = Object.entries(env).reduce(
        (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
        0,
      );
      assert.ok(bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES, `${fn.FunctionName}: ${bytes} bytes`);
      if (fn.FunctionName === undefined) {
        assert.equal(env.SLUICE_CONFIG, undefined, "schema registration reads its input from the event");
        continue;
      }
      const config = JSON.parse(env.SLUICE_CONFIG!) as {
        streams: object;
        pipelines: object;
        catalog: { tables: unknown[] };
      };
      if (
        ["sluice-ingest", "sluice-admin", "sluice-imports", "sluice-import-chunk"].includes(
          fn.FunctionName as string,
        )
      ) {
        assert.deepEqual([config.pipelines, config.catalog.tables], [{}, []]);
      } else if (fn.FunctionName === "sluice-registry") {
        assert.deepEqual([config.streams, config.pipelines], [{}, {}]);
        assert.equal(config.catalog.tables.length, 1, "the registry keeps the sinks' tables");
      } else if (fn.FunctionName === "sluice-query" || fn.FunctionName === "sluice-tail") {
        // The read slice: every stream, each stream's lake with only where its files are.
        assert.deepEqual(Object.keys(config.streams), ["feedback"]);
        assert.equal(config.catalog, undefined);
        assert.deepEqual(config.pipelines, {
          "feedback-lake": {
            name: "feedback-lake",
            sources: ["feedback"],
            sink: {
              name: "lake",
              bucket: `sluice-lake-${ACCOUNT}-${REGION}`,
              prefix: "{stream}/dt={yyyy}-{MM}-{dd}/hr={HH}/",
              // An Iceberg sink: queries read its table's snapshot.
              table: { database: "sluice", table: "lake" },
            },
          },
        });
      } else
        assert.deepEqual(
          [Object.keys(config.streams), Object.keys(config.pipelines)],
          [[], ["feedback-lake"]],
        );
    }
  });

  test("bundles are ESM with the SDK inside, ship nothing beside the code, and zips fit the targets", () => {
    const limits: Record<string, number> = {
      "sluice-ingest": 2_000_000,
      "sluice-registry": 2_000_000,
      "sluice-admin": 2_000_000,
      "sluice-imports": 2_000_000,
      // The CSV and Parquet readers sluice send uses ride along with the ingest core.
      "sluice-import-chunk": 3_000_000,
      "sluice-feedback-lake-batch": 3_000_000,
      "sluice-lake-commit": 3_000_000,
      // hyparquet and apache-arrow (Arrow IPC answers) are inside.
      "sluice-query": 2_000_000,
      "sluice-tail": 2_000_000,
      "schema registration": 2_000_000,
    };
    for (const [, fn] of resourcesOf(s, "AWS::Lambda::Function")) {
      const name = (fn.FunctionName as string | undefined) ?? "schema registration";
      const hash = (fn.Code as { S3Key: string }).S3Key.replace(/\.zip$/, "");
      const dir = join(s.outdir, `asset.${hash}`);
      const files = readdirSync(dir).sort();
      // No wasm or native addon: the Parquet writer is TypeScript and ZSTD comes from node:zlib.
      assert.deepEqual(files, ["index.mjs", "index.mjs.map"], name);
      const code = readFileSync(join(dir, "index.mjs"), "utf8");
      assert.ok(!/from\s*"@aws-sdk\//.test(code), `${name} imports the SDK from the runtime`);
      const zipped = files.reduce((n, f) => n + deflateRawSync(readFileSync(join(dir, f))).length, 0);
      assert.ok(
        zipped <= limits[name]!,
        `${name}: ${zipped} bytes zipped (${files.map((f) => `${f} ${statSync(join(dir, f)).size}`).join(", ")})`,
      );
    }
  });
});

/** The admin function's `cloudwatch:GetMetricData` on `*`, the one statement AWS allows no narrower. */
const isMetricsRead = (st: Statement) =>
  JSON.stringify(asList(st.Action)) === '["cloudwatch:GetMetricData"]' &&
  JSON.stringify(st.Resource) === '"*"';

describe("SluiceStack from sluice.yaml: least privilege", () => {
  test("no IAM statement has a wildcard action, an unscoped resource, or a managed policy", () => {
    for (const { policy, statement } of identityStatements(s)) {
      for (const action of asList(statement.Action)) assert.ok(!action.includes("*"), `${policy}: ${action}`);
      // GetMetricData has no resource-level permissions (test/infra/stream-stats.test.ts).
      if (isMetricsRead(statement)) continue;
      for (const resource of asList(statement.Resource))
        assert.notEqual(resource, "*", `${policy}: ${JSON.stringify(statement)}`);
    }
    for (const [id, role] of resourcesOf(s, "AWS::IAM::Role")) {
      assert.equal(role.ManagedPolicyArns, undefined, id);
      assert.equal(role.Policies, undefined, id);
    }
  });

  test("wildcards appear only in S3 object ARNs under the pipeline's own prefixes, the table's metadata folder and the imports' (test/infra/imports.test.ts)", () => {
    for (const { statement } of identityStatements(s)) {
      if (isMetricsRead(statement)) continue;
      for (const resource of asList(statement.Resource)) {
        const text = JSON.stringify(resource);
        if (!text.includes("*")) continue;
        assert.ok(
          /"\/(feedback\/dt=|errors\/feedback-lake\/|_iceberg\/|_iceberg\/lake\/|imports\/|errors\/imports\/)\*"/.test(
            text,
          ),
          text,
        );
      }
    }
  });

  test("the ingest role reaches only the stream, the idempotency, schemas and API keys tables and its logs", () => {
    const statements = statementsOf(s, "sluice-ingest");
    const actions = statements.flatMap((st) => asList(st.Action)).sort();
    assert.deepEqual(
      [...new Set(actions)],
      [
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:UpdateItem",
        "kinesis:DescribeStreamSummary",
        "kinesis:PutRecords",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
      ],
    );
    const onApiKeys = statements.filter((st) => JSON.stringify(st.Resource).includes("TablesApiKeys"));
    assert.deepEqual(
      onApiKeys.flatMap((st) => asList(st.Action)),
      ["dynamodb:GetItem"],
    );
    // Updates: a stream state change (keeping a run-time stream's definition on its item) and
    // the release of a claim whose record Kinesis may hold; on those two tables only.
    const updated = statements
      .filter((st) => asList(st.Action).includes("dynamodb:UpdateItem"))
      .map((st) =>
        /TablesControl/.test(JSON.stringify(st.Resource))
          ? "control"
          : /TablesIdempotency/.test(JSON.stringify(st.Resource))
            ? "idempotency"
            : JSON.stringify(st.Resource),
      )
      .sort();
    assert.deepEqual([...new Set(updated)], ["control", "idempotency"]);
  });

  test("ingest cannot change schemas; the registry role alone writes them and updates the sinks' tables", () => {
    const onSchemas = (fn: string) =>
      statementsOf(s, fn)
        .filter((st) => JSON.stringify(st.Resource).includes("TablesSchemas"))
        .flatMap((st) => asList(st.Action))
        .sort();
    assert.deepEqual(onSchemas("sluice-ingest"), ["dynamodb:GetItem", "dynamodb:Query"]);
    assert.deepEqual(onSchemas("sluice-registry"), [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
    ]);
    const registry = statementsOf(s, "sluice-registry");
    const text = registry
      .map((st) => `${asList(st.Action).join(",")} @ ${JSON.stringify(st.Resource)}`)
      .join("\n");
    assert.ok(!/kinesis:|TablesIdempotency|TablesCheckpoints|s3:/.test(text), text);
    const glue = registry.filter((st) => asList(st.Action).some((a) => a.startsWith("glue:")));
    assert.deepEqual(
      glue.flatMap((st) => asList(st.Action)),
      ["glue:GetTable", "glue:UpdateTable"],
    );
    assert.ok(JSON.stringify(glue[0]!.Resource).includes(":table/sluice/lake"), text);
    assert.ok(
      !statementsOf(s, "sluice-ingest").some((st) => asList(st.Action).some((a) => a.startsWith("glue:"))),
    );
  });

  test("the schema routes go to the registry function, the records and files routes to the query function, every other route to ingest", () => {
    const integrations = new Map(
      resourcesOf(s, "AWS::ApiGatewayV2::Integration").map(([id, p]) => [
        id,
        JSON.stringify(p.IntegrationUri),
      ]),
    );
    for (const [, route] of resourcesOf(s, "AWS::ApiGatewayV2::Route")) {
      const target = (route.Target as { "Fn::Join": [string, unknown[]] })["Fn::Join"][1][1] as {
        Ref: string;
      };
      const uri = integrations.get(target.Ref) ?? "";
      const key = route.RouteKey as string;
      if (key.includes("/v1/keys")) continue; // the admin function's: test/infra/admin-keys.test.ts
      if (key.includes("/v1/imports")) continue; // the imports function's: test/infra/imports.test.ts
      if (key === "GET /v1/streams/{stream}/records" || key === "GET /v1/streams/{stream}/files") {
        assert.match(uri, /QueryFunction/, key);
        continue;
      }
      assert.match(uri, key.includes("/v1/schemas") ? /Registry/ : /IngestFunction|Ingest[A-Z0-9]/, key);
      assert.ok(!(key.includes("/v1/schemas") && /IngestIngest/.test(uri)), key);
    }
  });

  test("the batcher role reaches only its prefixes, checkpoints, schemas, its queue, the stream and its logs", () => {
    const statements = statementsOf(s, "sluice-feedback-lake-batch");
    const text = permissionLines(statements).join("\n");
    assert.ok(!/kinesis:PutRecords|TablesIdempotency|TablesApiKeys|lambda:InvokeFunction/.test(text), text);
    assert.deepEqual(actionsOn(statements, /\/feedback\/dt=\*"/), ["s3:DeleteObject", "s3:PutObject"]);
    // PutItem: the Iceberg sink's pending files, in the checkpoint's transaction, on its sink's
    // partition key only (test/infra/iceberg.test.ts).
    assert.deepEqual(actionsOn(statements, /TablesCheckpoints/), [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]);
    assert.deepEqual(actionsOn(statements, /TablesSchemas/), ["dynamodb:GetItem", "dynamodb:Query"]);
    assert.deepEqual(actionsOn(statements, /PipelinefeedbacklakeDeadLetters/), ["sqs:SendMessage"]);
    assert.deepEqual(actionsOn(statements, new RegExp(`"${idOf("AWS::Kinesis::Stream")}"`)), [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]);
  });
});

describe("SluiceStack from sluice.yaml: schema registration", () => {
  test("every deploy registers the manifest's schemas, so the first record can be validated", () => {
    const [, resource] = resourcesOf(s, "Custom::SluiceSchemas")[0]!;
    assert.deepEqual(resource.Table, {
      Ref: idOf("AWS::DynamoDB::Table", (p) => p.TableName === "sluice-schemas"),
    });
    const schemas = JSON.parse(resource.Schemas as string) as {
      subject: string;
      schema: { title?: string };
    }[];
    assert.deepEqual(
      schemas.map((x) => [x.subject, x.schema.title]),
      [["sluice.feedback", "feedback.v1"]],
    );
  });

  test("the registration function may only read and add versions, and update the sinks' tables", () => {
    const [, fn] = resourcesOf(s, "AWS::Lambda::Function").find(([, p]) => p.FunctionName === undefined)!;
    const roleId = (fn.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
    const statements = identityStatements(s)
      .filter((x) => x.roles.some((r) => (r as { Ref?: string }).Ref === roleId))
      .map((x) => x.statement);
    const lines = permissionLines(statements);
    const text = lines.join("\n");
    assert.deepEqual(
      [...new Set(lines.map((l) => l.split(" @ ")[0]))].sort(),
      [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "glue:GetTable",
        "glue:UpdateTable",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
      ],
      text,
    );
    assert.deepEqual(
      actionsOn(statements, /TablesSchemas/),
      ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
      text,
    );
    // Glue: the catalog, the app's database and exactly the sinks' tables.
    const glue = resourcesFor(statements, "glue:UpdateTable");
    assert.deepEqual(resourcesFor(statements, "glue:GetTable").sort(), [...glue].sort());
    assert.equal(glue.length, 3, text);
    assert.ok(
      glue.some((r) => r.includes(':catalog"')) && glue.some((r) => r.includes(':database/sluice"')),
      text,
    );
    assert.ok(
      glue.some((r) => r.includes(':table/sluice/lake"')),
      text,
    );
    assert.ok(!glue.some((r) => r.includes("*")), text);
  });
});

describe("SluiceStack from sluice.yaml: alarms, dashboard, outputs", () => {
  test("alarms on API 5xx, function errors, iterator age, error-prefix writes, dead letters and throttling notify the alarm topic", () => {
    const topic = { Ref: idOf("AWS::SNS::Topic") };
    const alarms = resourcesOf(s, "AWS::CloudWatch::Alarm");
    for (const [id, alarm] of alarms) assert.deepEqual(alarm.AlarmActions, [topic], id);
    const metrics = alarms.map(([, a]) => `${a.Namespace} ${a.MetricName}`).sort();
    assert.deepEqual(metrics, [
      "AWS/ApiGateway 5xx",
      "AWS/Kinesis PutRecords.ThrottledRecords",
      "AWS/Lambda Errors",
      "AWS/Lambda Errors",
      "AWS/Lambda Errors",
      "AWS/Lambda Errors",
      "AWS/Lambda IteratorAge",
      "AWS/Lambda Throttles",
      "AWS/Lambda Throttles",
      "AWS/SQS ApproximateNumberOfMessagesVisible",
      "AWS/SQS ApproximateNumberOfMessagesVisible",
      "Sluice/sluice DeliveryLag",
      "Sluice/sluice RecordsFailed",
    ]);
    s.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "IteratorAge",
      Statistic: "Maximum",
      Threshold: 600_000,
      EvaluationPeriods: 3,
    });
  });

  test("the error-prefix metric is derived from the batcher's own log lines", () => {
    s.template.hasResourceProperties("AWS::Logs::MetricFilter", {
      FilterPattern: '{ $.message = "batch committed" }',
      MetricTransformations: [
        {
          MetricNamespace: "Sluice/sluice",
          MetricName: "RecordsFailed",
          MetricValue: "$.failed",
          Dimensions: [{ Key: "Pipeline", Value: "$.pipeline" }],
        },
      ],
    });
  });

  test("the dashboard shows iterator age, records in and out, ingest 4xx/5xx and latency p50/p99", () => {
    const [, dashboard] = resourcesOf(s, "AWS::CloudWatch::Dashboard")[0]!;
    const body = JSON.stringify(dashboard.DashboardBody);
    for (const needle of [
      "IteratorAge",
      "PolledEventCount",
      "InvokedEventCount",
      "RecordsDelivered",
      "RecordsFailed",
      '\\"4xx\\"',
      '\\"5xx\\"',
      '\\"stat\\":\\"p50\\"',
      '\\"stat\\":\\"p99\\"',
    ]) {
      assert.ok(body.includes(needle), needle);
    }
  });

  test("outputs name the ingest URL, the bucket, the stream and the tables", () => {
    const outputs = Object.keys(s.template.findOutputs("*")).sort();
    for (const name of [
      "IngestUrl",
      "Bucketlake",
      "EventStreamName",
      "IdempotencyTable",
      "CheckpointsTable",
      "SchemasTable",
      "ApiKeysTable",
    ]) {
      assert.ok(outputs.includes(name), `${name} in ${outputs.join(",")}`);
    }
  });
});

describe("SluiceStack from sluice.yaml: cdk-nag", () => {
  test("AwsSolutions reports nothing unacknowledged", () => {
    assert.deepEqual(s.violations, []);
  });

  test("every acknowledgement has a reason and is one of the known, justified ones", () => {
    const ids = new Set<string>();
    for (const sup of s.suppressions) {
      assert.ok(sup.reason.length > 40, `${sup.acknowledgedId}: ${sup.reason}`);
      ids.add(sup.ruleName.replace(/\[.*$/, ""));
    }
    assert.deepEqual([...ids].sort(), [
      "AwsSolutions-APIG4",
      "AwsSolutions-IAM5",
      "AwsSolutions-KDS3",
      "AwsSolutions-L1",
      "AwsSolutions-SQS3",
    ]);
  });
});
