import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GrpcProxyUsageError, parseGrpcProxyArgs } from "../../functions/grpc-proxy/cli.ts";

describe("sluice grpc-proxy options", () => {
  test("a target alone is enough; numbers are parsed once, here", () => {
    assert.deepEqual(parseGrpcProxyArgs(["--target", "https://ingest.example.com/prod"]), {
      target: "https://ingest.example.com/prod",
      logLevel: "info",
    });
    assert.deepEqual(
      parseGrpcProxyArgs([
        "--target",
        "http://127.0.0.1:8080",
        "--port",
        "0",
        "--linger-ms",
        "0",
        "--max-in-flight",
        "8",
      ]),
      { target: "http://127.0.0.1:8080", logLevel: "info", port: 0, lingerMs: 0, maxInFlightBatches: 8 },
    );
  });

  test("bad options say what is wrong", () => {
    const wrong = (argv: string[], message: RegExp) =>
      assert.throws(
        () => parseGrpcProxyArgs(argv),
        (err: unknown) => err instanceof GrpcProxyUsageError && message.test(err.message),
      );
    wrong([], /--target is required/);
    wrong(["--target", "ftp://x"], /http or https/);
    wrong(["--target", "http://x", "--port=-1"], /--port needs an integer/);
    wrong(["--target", "http://x", "--tls-cert", "/nonexistent.pem"], /cannot read/);
    wrong(["--target", "http://x", "--log-level", "loud"], /--log-level/);
    wrong(["--target", "http://x", "--bogus"], /bogus/);
  });
});
