/**
 * TEST INFRASTRUCTURE ONLY: serves the CloudWatch metrics emulator over AWS JSON 1.0
 * (`POST /`, `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`), the protocol
 * @aws-sdk/client-cloudwatch 3.1164 speaks (Query-compatible: errors carry `x-amzn-query-error`).
 */
import { type AwsJsonServer, type AwsJsonService, startAwsJsonServer } from "../aws-json-server.ts";
import { CloudWatchEmulator, type CloudWatchOperation, isCloudWatchOperation } from "./emulator.ts";

export type CloudWatchServer = AwsJsonServer;

export const CLOUDWATCH_TARGET_PREFIX = "GraniteServiceVersion20100801.";

export function cloudWatchService(emulator: CloudWatchEmulator): AwsJsonService<CloudWatchOperation> {
  return {
    targetPrefix: CLOUDWATCH_TARGET_PREFIX,
    messageField: "message",
    jsonVersion: "1.0",
    invalidRequestType: "com.amazonaws.cloudwatch#InvalidParameterValueException",
    internalErrorType: "com.amazonaws.cloudwatch#InternalServiceFault",
    isOperation: isCloudWatchOperation,
    handle: (operation, input) => emulator.handle(operation, input),
  };
}

export function startCloudWatchServer(emulator = new CloudWatchEmulator()): Promise<CloudWatchServer> {
  return startAwsJsonServer(cloudWatchService(emulator));
}
