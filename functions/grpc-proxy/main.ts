/**
 * Entry point of the proxy's container image and of `tsx functions/grpc-proxy/main.ts`: the
 * same as `sluice grpc-proxy`, without the rest of the CLI.
 */
import { runGrpcProxy } from "./cli.ts";

await runGrpcProxy(process.argv.slice(2));
