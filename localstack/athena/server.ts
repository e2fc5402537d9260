/**
 * TEST INFRASTRUCTURE ONLY: serves the Athena emulator over AWS JSON 1.1
 * (`POST /`, `X-Amz-Target: AmazonAthena.<Operation>`). It reads the catalog and the files
 * through the edge with the AWS SDK, as a client of the other emulators.
 */
import { GlueClient } from "@aws-sdk/client-glue";
import { S3Client } from "@aws-sdk/client-s3";
import { type AwsJsonServer, startAwsJsonServer } from "../aws-json-server.ts";
import { AthenaEmulator, isAthenaOperation } from "./emulator.ts";

export interface AthenaServerOptions {
  /** The edge endpoint, where Glue and S3 answer. */
  readonly endpoint: string;
  readonly region?: string;
}

export function startAthenaServer(o: AthenaServerOptions): Promise<AwsJsonServer> {
  const client = {
    endpoint: o.endpoint,
    region: o.region ?? "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  };
  const emulator = new AthenaEmulator({
    glue: new GlueClient(client),
    s3: new S3Client({ ...client, forcePathStyle: true }),
  });
  return startAwsJsonServer({
    targetPrefix: "AmazonAthena.",
    messageField: "Message",
    invalidRequestType: "InvalidRequestException",
    internalErrorType: "InternalServerException",
    isOperation: isAthenaOperation,
    handle: (operation, input) => emulator.handle(operation, input),
  });
}
