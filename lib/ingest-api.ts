import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  type HttpRoute,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { Alarm, ComparisonOperator, type Metric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IStream } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { gatewayVerifiesJwt } from "../functions/core/auth/gateway-claims.ts";
import type { RuntimeConfig } from "../functions/core/runtime-config.ts";
import {
  API_ROUTES,
  isAdminRoute,
  isImportRoute,
  isPublicRoute,
  isQueryRoute,
  isRegistryRoute,
  QUERY_ROUTES,
  TAIL_ROUTE,
} from "../functions/ingest/routes.ts";
import { SluiceFunction } from "./function-defaults.ts";
import {
  encryptedStreams,
  grantCatalogSync,
  grantPayloadKeyGeneration,
  grantPutRecords,
  grantTable,
} from "./grants.ts";
import { acknowledge } from "./nag.ts";
import { adminConfig, functionEnvironment, ingestConfig, registryConfig } from "./runtime-env.ts";

export interface IngestApiProps {
  readonly functionName: string;
  /** The schema registry API's function. */
  readonly registryFunctionName: string;
  /** The admin API's function (`/v1/keys...`). */
  readonly adminFunctionName: string;
  /** The runtime config; the function gets its ingest slice. */
  readonly config: RuntimeConfig;
  readonly stream: IStream;
  /**
   * The KMS key payload data keys are generated under, for streams with `encryption: payload`:
   * the key the runtime config's `kmsKeyId` names. @default the event stream's encryption key
   */
  readonly payloadKey?: IKey;
  readonly idempotency: ITable;
  readonly schemas: ITable;
  readonly apiKeys: ITable;
  /** Steady-state requests per second across the stage. @default 1000 */
  readonly rateLimit?: number;
  /** Requests per second allowed in a burst. @default 2000 */
  readonly burstLimit?: number;
  /** @default 1024 */
  readonly memorySize?: number;
  /** How long access logs and function logs are kept. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * The HTTP API and the ingest function behind every route of the ingest API.
 *
 * Authentication and authorization happen in the function, not in a Lambda authorizer: access is
 * decided per stream (RBAC on the `{stream}` of the matched route, and per schema operation),
 * which needs the parsed route and the caller's grants from the API keys table or the JWT in the
 * same place. An authorizer would only see the raw path, add a second function (and cold start)
 * to every uncached request, and its cache (keyed on the credential) would hand one stream's
 * decision to another. The gRPC proxy forwards to the same function, so it gets the same checks.
 * The routes are therefore open at the gateway (acknowledged below) and the function refuses
 * unauthenticated calls; `GET /v1/health` is public by design (liveness only, unless the caller
 * authenticates).
 *
 * When JWT is the only scheme (`auth.jwt` set, `apiKeys: false`), the HTTP API's native JWT
 * authorizer sits on every route but the public ones: bad, expired or foreign tokens are refused
 * at the gateway (401, no invocation), and the function takes the verified claims from the event
 * for its per-stream decisions (functions/core/auth/gateway-claims.ts). With API keys on too, the
 * authorizer would refuse every API-key caller (it only knows JWTs), so verification stays in the
 * function for both schemes.
 */
export class IngestApi extends Construct {
  public readonly api: HttpApi;
  public readonly stage: HttpStage;
  public readonly fn: NodejsFunction;
  /** Serves `/v1/schemas...`. */
  public readonly registryFn: NodejsFunction;
  /** Serves `/v1/keys...`. */
  public readonly adminFn: NodejsFunction;
  public readonly accessLogs: LogGroup;
  /** The gateway's JWT authorizer, when JWT is the only scheme; undefined otherwise. */
  public readonly jwtAuthorizer: HttpJwtAuthorizer | undefined;
  /** Alarms of the ingest path; the dashboard sends them to the alarm topic. */
  public readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);
    const fn = new SluiceFunction(this, "Ingest", {
      kind: "ingest",
      functionName: props.functionName,
      memorySize: props.memorySize ?? 1024,
      // API Gateway gives up on an integration after 30 s; finish (and log) before it does.
      timeout: Duration.seconds(29),
      environment: functionEnvironment(props.functionName, ingestConfig(props.config)),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    this.fn = fn.fn;
    grantPutRecords(props.stream, fn.role);
    // GET /v1/health probes the stream, the schemas table (GetItem) and the key (DescribeKey,
    // which the table grants below include) with their cheapest calls.
    props.stream.grant(fn.role, "kinesis:DescribeStreamSummary");
    // Claims are looked up in batches, taken with conditional puts, completed in batches and
    // released when the put to Kinesis failed: deleted, or (when Kinesis may hold the record)
    // kept with its lock ended by an update, for the retry to take over.
    grantTable(
      props.idempotency,
      fn.role,
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
      "dynamodb:UpdateItem",
    );
    // Payload encryption: data keys for the encrypted streams, and no way to decrypt them.
    const encrypted = encryptedStreams(props.config);
    const payloadKey = props.payloadKey ?? props.stream.encryptionKey;
    if (encrypted.length > 0 && payloadKey === undefined) {
      throw new Error(`streams ${encrypted.join(", ")} encrypt payloads, but there is no payload key`);
    }
    if (payloadKey) grantPayloadKeyGeneration(payloadKey, fn.role, props.config.app, encrypted);
    // Validation reads a subject's latest version (a query) and named ones (by key).
    grantTable(props.schemas, fn.role, "dynamodb:GetItem", "dynamodb:Query");
    // An API key is looked up by its hash; nothing else of the table is readable.
    grantTable(props.apiKeys, fn.role, "dynamodb:GetItem");

    // The schema registry's routes have their own function, which alone may change schemas.
    const registry = new SluiceFunction(this, "Registry", {
      kind: "registry",
      functionName: props.registryFunctionName,
      memorySize: 512,
      timeout: Duration.seconds(29),
      environment: functionEnvironment(props.registryFunctionName, registryConfig(props.config)),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    this.registryFn = registry.fn;
    // Reading versions and modes (GET /v1/schemas lists subjects with a scan); POST /v1/schemas
    // writes a version and its subject item in one transaction (puts); PUT .../config updates the
    // subject item; registering brings the sinks' Glue tables to the registered columns.
    grantTable(
      props.schemas,
      registry.role,
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    );
    grantCatalogSync(registry.role, props.config.catalog);
    grantTable(props.apiKeys, registry.role, "dynamodb:GetItem");

    // The key and stats routes have their own function, the only one that may write the keys table:
    // GetItem authenticates the caller and re-reads a key revoked twice, PutItem creates, Scan
    // lists and finds a key by its public id (the table is keyed by hash), UpdateItem revokes.
    const admin = new SluiceFunction(this, "Admin", {
      kind: "admin",
      functionName: props.adminFunctionName,
      memorySize: 256,
      timeout: Duration.seconds(29),
      environment: functionEnvironment(props.adminFunctionName, adminConfig(props.config)),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    this.adminFn = admin.fn;
    // GET /v1/streams/{stream}/stats reads the functions' metrics back.
    admin.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["cloudwatch:GetMetricData"], resources: ["*"] }),
    );
    acknowledge(
      admin.role,
      "AwsSolutions-IAM5[Resource::*]",
      "CloudWatch's GetMetricData and X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions: AWS grants them only on *. GetMetricData only reads metrics (the stream statistics route); the X-Ray actions only write trace data.",
    );
    grantTable(
      props.apiKeys,
      admin.role,
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
    );

    this.api = new HttpApi(this, "Api", {
      description: "Sluice ingest API",
      createDefaultStage: false,
    });
    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new HttpStage(this, "Stage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit ?? 1000, burstLimit: props.burstLimit ?? 2000 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // Who called what and how it went; never headers, query strings or bodies (keys, payloads).
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            requestTime: "$context.requestTime",
            sourceIp: "$context.identity.sourceIp",
            routeKey: "$context.routeKey",
            status: "$context.status",
            protocol: "$context.protocol",
            responseLength: "$context.responseLength",
            responseLatency: "$context.responseLatency",
            integrationLatency: "$context.integrationLatency",
            integrationStatus: "$context.integrationStatus",
            errorMessage: "$context.error.message",
          }),
        ),
      },
    });
    const ingestIntegration = new HttpLambdaIntegration("Ingest", this.fn);
    const registryIntegration = new HttpLambdaIntegration("Registry", this.registryFn);
    const adminIntegration = new HttpLambdaIntegration("Admin", this.adminFn);
    const jwt = props.config.auth.jwt;
    this.jwtAuthorizer =
      jwt !== undefined && gatewayVerifiesJwt(props.config.auth)
        ? new HttpJwtAuthorizer("Jwt", jwt.issuer, {
            authorizerName: "jwt",
            jwtAudience: typeof jwt.audience === "string" ? [jwt.audience] : [...jwt.audience],
            identitySource: ["$request.header.Authorization"],
          })
        : undefined;
    const open = new HttpNoneAuthorizer();
    const publicRoutes: HttpRoute[] = [];
    for (const route of API_ROUTES) {
      // The read routes go to the query function (`addReadRoutes`).
      if (isQueryRoute(route)) continue;
      // The import routes are added by their own construct (lib/import-jobs.ts).
      if (isImportRoute(route)) continue;
      const [method, path] = route.split(" ") as [keyof typeof HttpMethod, string];
      const integration = isRegistryRoute(route)
        ? registryIntegration
        : isAdminRoute(route)
          ? adminIntegration
          : ingestIntegration;
      const authorizer: IHttpRouteAuthorizer | undefined =
        this.jwtAuthorizer === undefined ? undefined : isPublicRoute(route) ? open : this.jwtAuthorizer;
      const added = this.api.addRoutes({
        path,
        methods: [HttpMethod[method]],
        integration,
        ...(authorizer === undefined ? {} : { authorizer }),
      });
      if (isPublicRoute(route)) publicRoutes.push(...added);
    }
    // Only with Sluice's own authentication on: with it off, cdk-nag's finding stands and fails
    // the synth (a deployment refuses `apiKeys: false` without jwt before this, see deploy-limits).
    // With the gateway's JWT authorizer only the public routes are open, and the finding is
    // acknowledged on those alone.
    if (this.jwtAuthorizer !== undefined) {
      for (const route of publicRoutes) {
        acknowledge(
          route,
          "AwsSolutions-APIG4",
          "Public by design: GET /v1/health answers liveness only to anonymous callers (readiness after the function verifies a token), GET /v1/openapi.json is the API description.",
        );
      }
    } else if (props.config.auth.apiKeys || props.config.auth.jwt !== undefined) {
      acknowledge(
        this.api,
        "AwsSolutions-APIG4",
        "Authentication and per-stream authorization are done by the ingest function (API keys table, JWT), which needs the matched route and stream; see the IngestApi doc. GET /v1/health is public and answers liveness only to anonymous callers.",
      );
    }

    const alarm = (id: string, description: string, metric: Metric, threshold: number) =>
      new Alarm(this, id, {
        alarmDescription: `${props.functionName}: ${description}`,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    this.alarms = [
      alarm(
        "ServerErrors",
        "the API answered 5xx; producers are retrying or losing records",
        this.stage.metricServerError({ statistic: "Sum", period: Duration.minutes(5) }),
        5,
      ),
      alarm(
        "FunctionErrors",
        "ingest or registry invocations failed",
        this.fn.metricErrors({ statistic: "Sum", period: Duration.minutes(5) }),
        1,
      ),
      alarm(
        "RegistryErrors",
        "schema registry invocations failed",
        this.registryFn.metricErrors({ statistic: "Sum", period: Duration.minutes(5) }),
        1,
      ),
      new Alarm(this, "Throttles", {
        alarmDescription: `${props.functionName}: invocations throttled; producers are getting 5xx`,
        metric: this.fn.metricThrottles({ statistic: "Sum", period: Duration.minutes(5) }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }

  /**
   * `GET /v1/streams/{stream}/records` to the read API's function. The tail is not routed here:
   * HTTP APIs buffer the whole response, so it has its own function URL with response streaming.
   */
  public addReadRoutes(queryFn: IFunction): void {
    const integration = new HttpLambdaIntegration("Query", queryFn);
    for (const route of QUERY_ROUTES.filter((r) => r !== TAIL_ROUTE)) {
      const [method, path] = route.split(" ") as [keyof typeof HttpMethod, string];
      this.api.addRoutes({
        path,
        methods: [HttpMethod[method]],
        integration,
        ...(this.jwtAuthorizer === undefined ? {} : { authorizer: this.jwtAuthorizer }),
      });
    }
  }

  /** AWS/ApiGateway 4xx, 5xx, Count and Latency of the stage. */
  public metricClientErrors(): Metric {
    return this.stage.metricClientError({ statistic: "Sum", period: Duration.minutes(1) });
  }

  public metricServerErrors(): Metric {
    return this.stage.metricServerError({ statistic: "Sum", period: Duration.minutes(1) });
  }

  public metricRequests(): Metric {
    return this.stage.metricCount({ statistic: "Sum", period: Duration.minutes(1) });
  }

  public metricLatency(statistic: "p50" | "p99"): Metric {
    return this.stage.metricLatency({
      statistic,
      period: Duration.minutes(1),
      label: `latency ${statistic}`,
    });
  }
}
