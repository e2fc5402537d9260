/** TEST INFRASTRUCTURE ONLY: CloudWatch's errors, as its JSON protocol in Query-compatible mode spells them. */
import { AwsJsonError } from "../aws-json-server.ts";

export class CloudWatchError extends AwsJsonError {
  /** `type` is the Smithy shape (`InvalidParameterValueException`), `queryCode` its Query name. */
  constructor(type: string, queryCode: string, message: string, status = 400) {
    super(`com.amazonaws.cloudwatch#${type}`, message, status, `${queryCode};Sender`);
  }
}
