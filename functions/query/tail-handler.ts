/**
 * Lambda entry point of the tail, behind a function URL with response streaming (API Gateway HTTP
 * APIs do not stream). The URL's own auth is NONE: the app checks the API key or JWT exactly as
 * the API's routes do, before the stream starts. `awslambda` is the Node.js runtime's global.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import {
  awsSettingsFromEnv,
  clientBase,
  dynamoClient,
  kinesisClient,
  kmsClient,
  s3Client,
} from "../core/aws-clients.ts";
import { observability, tracedClients } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createTailApp } from "./tail-app.ts";

interface ResponseStream extends NodeJS.WritableStream {
  end(): this;
}

declare const awslambda: {
  streamifyResponse(
    fn: (event: APIGatewayProxyEventV2, stream: ResponseStream) => Promise<void>,
  ): (event: APIGatewayProxyEventV2) => Promise<void>;
  HttpResponseStream: {
    from(
      stream: ResponseStream,
      meta: { statusCode: number; headers: Record<string, string> },
    ): ResponseStream;
  };
};

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const o = await observability({ service: "sluice-tail", app: config.app, env: process.env });
const base = clientBase(awsSettingsFromEnv(process.env));
const tail = createTailApp({
  config,
  clients: tracedClients(o.tracer, {
    s3: s3Client(base),
    dynamo: dynamoClient(base),
    kinesis: kinesisClient(base),
    kms: kmsClient(base),
  }),
  logger: o.logger,
});

export const handler = awslambda.streamifyResponse(async (event, stream) => {
  const gone = new AbortController();
  stream.on("close", () => gone.abort());
  let out: ResponseStream = stream;
  await tail(
    event,
    {
      start: (statusCode, headers) => {
        out = awslambda.HttpResponseStream.from(stream, { statusCode, headers });
      },
      write: (chunk) =>
        new Promise<void>((done, fail) => out.write(chunk, (err) => (err ? fail(err) : done()))),
      end: () => out.end(),
    },
    gone.signal,
  );
});
