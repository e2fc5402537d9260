/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha, the same messages), answered from the
 * compiled descriptor set, so tools such as grpcurl and reflection clients in other languages
 * see exactly what protoc makes of proto/.
 */
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { DescriptorIndex } from "./descriptors.ts";

interface ReflectionRequest {
  readonly host?: string;
  readonly messageRequest?:
    | "fileByFilename"
    | "fileContainingSymbol"
    | "fileContainingExtension"
    | "allExtensionNumbersOfType"
    | "listServices";
  readonly fileByFilename?: string;
  readonly fileContainingSymbol?: string;
  readonly fileContainingExtension?: { readonly containingType?: string; readonly extensionNumber?: number };
  readonly allExtensionNumbersOfType?: string;
  readonly listServices?: string;
}

type ReflectionAnswer =
  | { readonly fileDescriptorResponse: { readonly fileDescriptorProto: Uint8Array[] } }
  | {
      readonly allExtensionNumbersResponse: {
        readonly baseTypeName: string;
        readonly extensionNumber: number[];
      };
    }
  | { readonly listServicesResponse: { readonly service: { readonly name: string }[] } }
  | { readonly errorResponse: { readonly errorCode: number; readonly errorMessage: string } };

function notFound(message: string): ReflectionAnswer {
  return { errorResponse: { errorCode: status.NOT_FOUND, errorMessage: message } };
}

/** One reflection request's answer; `services` are those the server serves. */
export function answerReflection(
  index: DescriptorIndex,
  services: readonly string[],
  request: ReflectionRequest,
): ReflectionAnswer {
  switch (request.messageRequest) {
    case "listServices":
      return { listServicesResponse: { service: services.map((name) => ({ name })) } };
    case "fileByFilename": {
      const file = index.fileByName(request.fileByFilename ?? "");
      if (!file) return notFound(`no file named ${request.fileByFilename}`);
      return { fileDescriptorResponse: { fileDescriptorProto: index.withDependencies(file) } };
    }
    case "fileContainingSymbol": {
      const file = index.fileBySymbol(request.fileContainingSymbol ?? "");
      if (!file) return notFound(`no symbol ${request.fileContainingSymbol}`);
      return { fileDescriptorResponse: { fileDescriptorProto: index.withDependencies(file) } };
    }
    case "allExtensionNumbersOfType": {
      const type = request.allExtensionNumbersOfType ?? "";
      // The protos define no extensions: known types have none, others are unknown.
      if (!index.fileBySymbol(type)) return notFound(`no type ${type}`);
      return { allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: [] } };
    }
    case "fileContainingExtension":
      return notFound("no extensions are defined");
    default:
      return {
        errorResponse: { errorCode: status.INVALID_ARGUMENT, errorMessage: "empty reflection request" },
      };
  }
}

export function reflectionService(
  index: DescriptorIndex,
  services: readonly string[],
): UntypedServiceImplementation {
  return {
    ServerReflectionInfo: (call: ServerDuplexStream<ReflectionRequest, object>) => {
      call.on("data", (request: ReflectionRequest) => {
        call.write({
          validHost: request.host ?? "",
          originalRequest: request,
          ...answerReflection(index, services, request),
        });
      });
      call.on("end", () => call.end());
      call.on("error", () => {});
    },
  } as UntypedServiceImplementation;
}
