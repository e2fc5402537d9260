/** Lambda entry point of a pipeline's built-in transformer, with Middy around it. */
import { lambdaHandler, observability } from "../core/lambda-handler.ts";
import { parseRuntimeConfig, RUNTIME_CONFIG_ENV } from "../core/runtime-config.ts";
import { createTransformer } from "./transformer.ts";

const config = parseRuntimeConfig(process.env[RUNTIME_CONFIG_ENV]);
const pipelineName = process.env.SLUICE_PIPELINE ?? "";
const pipeline = config.pipelines[pipelineName];
if (pipeline === undefined) {
  throw new Error(
    `SLUICE_PIPELINE ${JSON.stringify(pipelineName)} names no pipeline in ${RUNTIME_CONFIG_ENV}`,
  );
}

const o = await observability({
  service: "sluice-transform",
  app: config.app,
  env: process.env,
  dimensions: { Pipeline: pipelineName },
});
const logger = o.logger.child({ pipeline: pipelineName });

/** How many failed records one invocation logs individually; the rest are only counted. */
const LOGGED_FAILURES = 10;

// A custom transform's error message is the author's text and may quote the record.
const AUTHOR_MESSAGES = new Set(["CUSTOM_FAILED", "TRANSFORM_ERROR"]);

const transform = createTransformer(pipeline.steps, {
  onSummary: (summary) => {
    const { failures, ...counts } = summary;
    logger.info("transformed", counts);
    for (const failure of failures.slice(0, LOGGED_FAILURES)) {
      logger.warn("record failed", {
        invocationId: summary.invocationId,
        recordId: failure.recordId,
        code: failure.code,
        ...(AUTHOR_MESSAGES.has(failure.code) ? {} : { detail: failure.message }),
      });
    }
  },
});

// The batcher names each invocation after its shard and first sequence number.
export const handler = lambdaHandler(transform, o, "invocationId");
