/**
 * The bytes Kinesis accepted through one request's client, counted as its PutRecords answers come
 * back: the ingest core answers with per-record results (the API's body), not sizes, and this is
 * where the bytes are known, after encoding and only for the entries Kinesis took.
 */
import type { KinesisClient, PutRecordsCommandInput, PutRecordsCommandOutput } from "@aws-sdk/client-kinesis";

export interface CountedPuts {
  /** The client to pass the ingest core for this request. */
  readonly kinesis: KinesisClient;
  bytes(): number;
}

type Send = (command: { readonly input: unknown }, ...rest: unknown[]) => Promise<unknown>;

export function countAcceptedBytes(kinesis: KinesisClient): CountedPuts {
  let bytes = 0;
  const send = kinesis.send as unknown as Send;
  const counting: Send = async (command, ...rest) => {
    const out = await send.call(kinesis, command, ...rest);
    const entries = (command.input as Partial<PutRecordsCommandInput>).Records;
    const answers = (out as Partial<PutRecordsCommandOutput> | undefined)?.Records;
    if (entries && answers) {
      answers.forEach((answer, i) => {
        if (answer.SequenceNumber !== undefined) bytes += entries[i]?.Data?.byteLength ?? 0;
      });
    }
    return out;
  };
  // Everything but send is the shared client's own (config, middleware, destroy).
  const counted = Object.create(kinesis, { send: { value: counting } }) as KinesisClient;
  return { kinesis: counted, bytes: () => bytes };
}
