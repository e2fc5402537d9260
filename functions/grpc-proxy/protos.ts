/**
 * The protos the proxy serves, loaded at runtime from the repo's proto/ folder, and the shapes
 * @grpc/proto-loader gives their messages with {@link LOADER_OPTIONS} (camelCase fields, enums
 * as names, 64-bit integers as strings, oneofs named by their set field).
 */
import { fileURLToPath } from "node:url";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";

export const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));

/** The compiled protos served over reflection; proto/descriptor-set.sh regenerates it. */
export const DESCRIPTOR_SET_PATH = fileURLToPath(
  new URL("../../proto/descriptor-set.binpb", import.meta.url),
);

export const PROTO_FILES = [
  "sluice/v1/ingest.proto",
  "sluice/v1/query.proto",
  "grpc/health/v1/health.proto",
  "grpc/reflection/v1/reflection.proto",
  "grpc/reflection/v1alpha/reflection.proto",
] as const;

export const INGEST_SERVICE = "sluice.v1.IngestService";
export const QUERY_SERVICE = "sluice.v1.QueryService";
export const HEALTH_SERVICE = "grpc.health.v1.Health";
export const REFLECTION_SERVICES = [
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
] as const;

export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export function loadProtos(): PackageDefinition {
  return loadSync([...PROTO_FILES], LOADER_OPTIONS);
}

export function serviceDefinition(definition: PackageDefinition, name: string): ServiceDefinition {
  const service = definition[name];
  if (!service || "format" in service) throw new Error(`${name} is not a service in ${PROTO_DIR}`);
  return service as unknown as ServiceDefinition;
}

/**
 * A request whose bytes did not decode. grpc-js answers a throwing deserializer with INTERNAL,
 * which tells a client the fault is ours; handed this instead, the handler answers INVALID_ARGUMENT.
 */
export class MalformedMessage {
  constructor(readonly reason: string) {}
}

/** The service with deserializers that return a {@link MalformedMessage} rather than throw. */
export function tolerantServiceDefinition(definition: PackageDefinition, name: string): ServiceDefinition {
  const service = serviceDefinition(definition, name);
  return Object.fromEntries(
    Object.entries(service).map(([method, d]) => [
      method,
      {
        ...d,
        requestDeserialize: (bytes: Buffer): unknown => {
          try {
            return d.requestDeserialize(bytes);
          } catch (err) {
            return new MalformedMessage(
              `the request is not a valid ${method} message: ${(err as Error).message}`,
            );
          }
        },
      },
    ]),
  ) as ServiceDefinition;
}

export interface TimestampMessage {
  readonly seconds?: string | number;
  readonly nanos?: number;
}

export interface ValueMessage {
  readonly kind?: "nullValue" | "numberValue" | "stringValue" | "boolValue" | "structValue" | "listValue";
  readonly nullValue?: string;
  readonly numberValue?: number;
  readonly stringValue?: string;
  readonly boolValue?: boolean;
  readonly structValue?: StructMessage;
  readonly listValue?: ListValueMessage;
}

export interface StructMessage {
  readonly fields?: Readonly<Record<string, ValueMessage>>;
}

export interface ListValueMessage {
  readonly values?: readonly ValueMessage[];
}

export interface RecordMessage {
  readonly stream?: string;
  readonly payload?: "json" | "struct";
  readonly json?: Buffer;
  readonly struct?: StructMessage;
  readonly idempotencyKey?: string;
  readonly eventTime?: TimestampMessage;
  readonly clientId?: string;
  /** 0 or absent: the latest. */
  readonly schemaVersion?: number;
}

export type AckStatus = "ACK_STATUS_ACCEPTED" | "ACK_STATUS_DUPLICATE" | "ACK_STATUS_REJECTED";

export interface AckMessage {
  readonly recordId?: string;
  readonly status: AckStatus;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly errorPath?: string;
  readonly clientId?: string;
  readonly retryAfterSeconds?: number;
}

export interface IngestRequestMessage {
  readonly record?: RecordMessage;
}

export interface IngestResponseMessage {
  readonly ack: AckMessage;
}

export interface IngestBatchRequestMessage {
  readonly records?: readonly RecordMessage[];
  /** Of each record whose own is 0 or absent. */
  readonly schemaVersion?: number;
}

export interface IngestBatchResponseMessage {
  readonly acks: readonly AckMessage[];
}
