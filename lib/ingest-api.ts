import { CfnOutput } from "aws-cdk-lib";
import { HttpApi, HttpMethod } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { IStream } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { Construct } from "constructs";
import { INGEST_ROUTES } from "../functions/ingest/routes.ts";
import { functionsDir, sluiceFunction } from "./function-defaults.ts";

export interface IngestApiProps {
  readonly functionName: string;
  readonly stream: IStream;
  readonly key: IKey;
  readonly idempotency: ITable;
  readonly schemas: ITable;
  readonly apiKeys: ITable;
  readonly configJson: string;
}

/** The HTTP API and the ingest function behind every route. */
export class IngestApi extends Construct {
  public readonly api: HttpApi;
  public readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);
    this.fn = sluiceFunction(this, "Function", {
      functionName: props.functionName,
      entry: `${functionsDir}ingest/handler.ts`,
      environment: { SLUICE_CONFIG: props.configJson },
    });
    props.stream.grantWrite(this.fn);
    props.idempotency.grantReadWriteData(this.fn);
    props.schemas.grantReadWriteData(this.fn);
    props.apiKeys.grantReadData(this.fn);
    props.key.grantEncryptDecrypt(this.fn);

    this.api = new HttpApi(this, "Api", { description: "Sluice ingest API" });
    const integration = new HttpLambdaIntegration("Ingest", this.fn);
    for (const route of INGEST_ROUTES) {
      const [method, path] = route.split(" ") as [keyof typeof HttpMethod, string];
      this.api.addRoutes({ path, methods: [HttpMethod[method]], integration });
    }
    new CfnOutput(this, "Url", { value: this.api.apiEndpoint, description: "Ingest API base URL" });
  }
}
