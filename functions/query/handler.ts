/** Lambda entry point of the read API behind API Gateway: configuration from the environment, the app, Middy around it. */
import { lambdaHandler } from "../core/lambda-handler.ts";
import { createQueryApp } from "./app.ts";
import { readHandlerDeps } from "./env-deps.ts";

const { o, deps } = await readHandlerDeps("sluice-query");

export const handler = lambdaHandler(createQueryApp(deps), o, "requestContext.requestId");
