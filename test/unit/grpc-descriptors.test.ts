import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { status } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer, loadSync } from "@grpc/proto-loader";
import { DescriptorIndex } from "../../functions/grpc-proxy/descriptors.ts";
import { DESCRIPTOR_SET_PATH, PROTO_DIR, PROTO_FILES } from "../../functions/grpc-proxy/protos.ts";
import { answerReflection } from "../../functions/grpc-proxy/reflection.ts";

const descriptorSet = readFileSync(DESCRIPTOR_SET_PATH);

describe("proto/descriptor-set.binpb", () => {
  test("describes exactly what proto/ says (run proto/descriptor-set.sh after editing a .proto)", () => {
    const options = { keepCase: true, longs: String, enums: String };
    const fromSources = loadSync([...PROTO_FILES], { ...options, includeDirs: [PROTO_DIR] });
    const compiled = loadFileDescriptorSetFromBuffer(descriptorSet, options);
    // Well-known types come from protobufjs' own copies on one side and protoc's on the other.
    const ours = (name: string) => !name.startsWith("google.protobuf.");
    assert.deepEqual(Object.keys(compiled).filter(ours).sort(), Object.keys(fromSources).filter(ours).sort());
    for (const name of Object.keys(fromSources).filter(ours)) {
      const a = fromSources[name] as Record<string, unknown>;
      const b = compiled[name] as Record<string, unknown>;
      if ("type" in a) {
        assert.ok(
          isDeepStrictEqual(a.type, b.type),
          `${name} differs: regenerate with proto/descriptor-set.sh`,
        );
      } else {
        for (const method of Object.keys(a)) {
          const [ma, mb] = [a[method], b[method]] as {
            path: string;
            requestStream: boolean;
            responseStream: boolean;
          }[];
          assert.deepEqual(
            [mb?.path, mb?.requestStream, mb?.responseStream],
            [ma!.path, ma!.requestStream, ma!.responseStream],
            `${name}.${method}`,
          );
        }
      }
    }
  });
});

describe("server reflection", () => {
  const index = new DescriptorIndex(descriptorSet);
  const served = ["sluice.v1.IngestService", "grpc.health.v1.Health"];
  const fileNames = (answer: ReturnType<typeof answerReflection>) =>
    "fileDescriptorResponse" in answer
      ? answer.fileDescriptorResponse.fileDescriptorProto.map((b) =>
          new TextDecoder().decode(b.subarray(2, 2 + b[1]!)),
        )
      : answer;

  test("finds the file of a service, a method, a message and a nested enum, with its imports", () => {
    const ingest = [
      "sluice/v1/ingest.proto",
      "google/protobuf/struct.proto",
      "google/protobuf/timestamp.proto",
    ];
    for (const symbol of [
      "sluice.v1.IngestService",
      "sluice.v1.IngestService.IngestStream",
      "sluice.v1.Record",
      ".sluice.v1.AckStatus",
    ]) {
      assert.deepEqual(
        fileNames(
          answerReflection(index, served, {
            messageRequest: "fileContainingSymbol",
            fileContainingSymbol: symbol,
          }),
        ),
        ingest,
        symbol,
      );
    }
    assert.deepEqual(
      fileNames(
        answerReflection(index, served, {
          messageRequest: "fileContainingSymbol",
          fileContainingSymbol: "grpc.health.v1.HealthCheckResponse.ServingStatus",
        }),
      ),
      ["grpc/health/v1/health.proto"],
    );
    assert.deepEqual(
      fileNames(
        answerReflection(index, served, {
          messageRequest: "fileByFilename",
          fileByFilename: "sluice/v1/ingest.proto",
        }),
      ),
      ingest,
    );
  });

  test("lists what is served; unknown names are NOT_FOUND", () => {
    assert.deepEqual(answerReflection(index, served, { messageRequest: "listServices", listServices: "" }), {
      listServicesResponse: {
        service: [{ name: "sluice.v1.IngestService" }, { name: "grpc.health.v1.Health" }],
      },
    });
    const missing = answerReflection(index, served, {
      messageRequest: "fileContainingSymbol",
      fileContainingSymbol: "x.Y",
    });
    assert.equal("errorResponse" in missing && missing.errorResponse.errorCode, status.NOT_FOUND);
  });
});
