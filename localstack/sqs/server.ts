/**
 * TEST INFRASTRUCTURE ONLY: serves the SQS emulator over AWS JSON 1.0
 * (`POST /`, `X-Amz-Target: AmazonSQS.<Operation>`), the protocol the AWS SDK v3 speaks to SQS.
 */
import { type AwsJsonServer, type AwsJsonService, startAwsJsonServer } from "../aws-json-server.ts";
import { isSqsOperation, SqsEmulator, type SqsOperation } from "./emulator.ts";

export type SqsServer = AwsJsonServer;

function sqsService(emulator: SqsEmulator): AwsJsonService<SqsOperation> {
  return {
    targetPrefix: "AmazonSQS.",
    messageField: "message",
    invalidRequestType: "InvalidParameterValue",
    internalErrorType: "InternalError",
    jsonVersion: "1.0",
    isOperation: isSqsOperation,
    // Queue URLs name the host the client called: the edge, which routes them back here.
    handle: (operation, input, headers) =>
      emulator.handle(operation, input, headers.host ?? "127.0.0.1:4566"),
  };
}

export interface SqsServerOptions {
  /** Keep queues and messages in this file across restarts. @default in memory only */
  readonly stateFile?: string;
}

export function startSqsServer(options: SqsServerOptions = {}): Promise<SqsServer> {
  const emulator = new SqsEmulator(options.stateFile === undefined ? {} : { stateFile: options.stateFile });
  return startAwsJsonServer(sqsService(emulator));
}
