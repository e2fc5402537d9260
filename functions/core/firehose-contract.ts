/**
 * The Firehose data-transformation contract, so a transformer written for Firehose works
 * unchanged as a Sluice transformer, and ours can be called the same way.
 */
export interface TransformationRecordIn {
  readonly recordId: string;
  /** Base64 of the record's JSON payload. */
  readonly data: string;
  readonly approximateArrivalTimestamp: number;
  readonly kinesisRecordMetadata: {
    readonly shardId: string;
    readonly partitionKey: string;
    readonly sequenceNumber: string;
    readonly subsequenceNumber: string;
    readonly approximateArrivalTimestamp: number;
  };
}

export interface TransformationEvent {
  readonly invocationId: string;
  /** Names the pipeline. */
  readonly deliveryStreamArn: string;
  readonly region: string;
  readonly records: readonly TransformationRecordIn[];
}

export type TransformationResultKind = "Ok" | "Dropped" | "ProcessingFailed";

export interface TransformationRecordOut {
  readonly recordId: string;
  readonly result: TransformationResultKind;
  /** Base64 of the transformed JSON payload (ignored unless `Ok`). */
  readonly data?: string;
  readonly metadata?: { readonly partitionKeys?: Readonly<Record<string, string>> };
  /**
   * Sluice's extension for `ProcessingFailed`: why, so the errors prefix can say. Firehose
   * transformers leave it out and the batcher falls back to a generic code.
   */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface TransformationResponse {
  readonly records: readonly TransformationRecordOut[];
}

/** Calls a transformer by function name or ARN: Lambda Invoke in AWS, in-process locally. */
export type TransformerInvoker = (
  functionName: string,
  event: TransformationEvent,
) => Promise<TransformationResponse>;
