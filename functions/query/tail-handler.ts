/**
 * Lambda entry point of the tail, behind a function URL with response streaming (API Gateway HTTP
 * APIs do not stream). The URL's own auth is NONE: the app checks the API key or JWT exactly as
 * the API's routes do (the same `Auth`, the same `read` action on the stream), before the stream
 * starts, and answers a refusal as the API does (401/403 JSON).
 */
import { streamingLambdaHandler } from "../core/lambda-handler.ts";
import { readHandlerDeps } from "./env-deps.ts";
import { createTailApp } from "./tail-app.ts";

const { o, deps } = await readHandlerDeps("sluice-tail");

export const handler = streamingLambdaHandler(createTailApp(deps), o, "requestContext.requestId");
