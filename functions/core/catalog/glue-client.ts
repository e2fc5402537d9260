/**
 * The Glue client, apart from the other clients: only the schema registry's function and the
 * deploy-time registration talk to Glue, and its SDK would double every other function's bundle.
 */
import { GlueClient } from "@aws-sdk/client-glue";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { AwsSettings } from "../aws-clients.ts";

export function createGlueClient(settings: AwsSettings): GlueClient {
  return new GlueClient({
    region: settings.region ?? "us-east-1",
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 30_000 }),
  });
}
