/**
 * The event source mapping filter of a pipeline: Kinesis filter criteria match the JSON of the
 * record's data, so a pipeline receives only the envelopes of the streams it reads.
 */
export interface EsmFilterPattern {
  readonly data: { readonly stream: readonly string[] };
}

export function esmFilterPattern(sources: readonly string[]): EsmFilterPattern {
  return { data: { stream: [...sources] } };
}
