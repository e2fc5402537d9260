/**
 * TEST INFRASTRUCTURE ONLY: serves the KMS emulator over AWS JSON 1.1
 * (`POST /`, `X-Amz-Target: TrentService.<Operation>`).
 */
import type http from "node:http";
import {
  type AwsJsonServer,
  type AwsJsonService,
  createAwsJsonListener,
  startAwsJsonServer,
} from "../aws-json-server.ts";
import { isKmsOperation, KmsEmulator, type KmsOperation } from "./emulator.ts";

export type KmsServer = AwsJsonServer;

/** Region from the SigV4 credential scope, as KMS ARNs are regional. */
function regionOf(authorization: string | undefined): string {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\/kms\//.exec(authorization ?? "")?.[1] ?? "us-east-1";
}

function kmsService(emulator: KmsEmulator): AwsJsonService<KmsOperation> {
  return {
    targetPrefix: "TrentService.",
    messageField: "message",
    invalidRequestType: "ValidationException",
    internalErrorType: "KMSInternalException",
    isOperation: isKmsOperation,
    handle: (operation, input, headers) => emulator.handle(operation, input, regionOf(headers.authorization)),
  };
}

export function createKmsRequestListener(
  emulator: KmsEmulator = new KmsEmulator(),
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return createAwsJsonListener(kmsService(emulator));
}

export interface KmsServerOptions {
  /** Keep keys in this file across restarts. @default in memory only */
  readonly keysFile?: string;
}

export function startKmsServer(options: KmsServerOptions = {}): Promise<KmsServer> {
  const emulator = new KmsEmulator(options.keysFile === undefined ? {} : { keysFile: options.keysFile });
  return startAwsJsonServer(kmsService(emulator));
}
