/** TransformerInvoker over Lambda Invoke, for deployed batchers. */
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import type { TransformationResponse, TransformerInvoker } from "./firehose-contract.ts";

export class TransformerFailed extends Error {
  override readonly name = "TransformerFailed";
}

export function lambdaInvoker(lambda: LambdaClient): TransformerInvoker {
  return async (functionName, event) => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(event)) }),
    );
    const text = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
    if (out.FunctionError)
      throw new TransformerFailed(`transformer ${functionName} failed: ${out.FunctionError}`);
    const parsed = JSON.parse(text) as TransformationResponse;
    if (!parsed || !Array.isArray(parsed.records)) {
      throw new TransformerFailed(`transformer ${functionName} returned no records array`);
    }
    return parsed;
  };
}
