/**
 * TEST INFRASTRUCTURE ONLY: serves the Glue Data Catalog emulator over AWS JSON 1.1
 * (`POST /`, `X-Amz-Target: AWSGlue.<Operation>`).
 */
import { type AwsJsonServer, type AwsJsonService, startAwsJsonServer } from "../aws-json-server.ts";
import { GlueEmulator, type GlueOperation, isGlueOperation } from "./emulator.ts";

export type GlueServer = AwsJsonServer;

function glueService(emulator: GlueEmulator): AwsJsonService<GlueOperation> {
  return {
    targetPrefix: "AWSGlue.",
    // Glue's exceptions carry `Message` (capitalised), unlike KMS's `message`.
    messageField: "Message",
    invalidRequestType: "InvalidInputException",
    internalErrorType: "InternalServiceException",
    isOperation: isGlueOperation,
    handle: (operation, input) => emulator.handle(operation, input),
  };
}

export interface GlueServerOptions {
  /** Keep the catalog in this file across restarts. @default in memory only */
  readonly catalogFile?: string;
}

export function startGlueServer(options: GlueServerOptions = {}): Promise<GlueServer> {
  const emulator = new GlueEmulator(
    options.catalogFile === undefined ? {} : { catalogFile: options.catalogFile },
  );
  return startAwsJsonServer(glueService(emulator));
}
