/**
 * The event source mapping filter of a pipeline: Kinesis filter criteria match the JSON of the
 * record's data, so a pipeline receives only the envelopes of the streams it reads. The pipeline
 * that takes run-time streams also receives every stream the manifest does not declare: ingest
 * accepts no others, so those are exactly the streams created at run time.
 */
export type StreamMatch = string | { readonly "anything-but": readonly string[] };

export interface EsmFilterPattern {
  readonly data: { readonly stream: readonly StreamMatch[] };
}

export function esmFilterPattern(
  sources: readonly string[],
  runtime?: { readonly declared: readonly string[] },
): EsmFilterPattern {
  return {
    data: { stream: [...sources, ...(runtime ? [{ "anything-but": [...runtime.declared] }] : [])] },
  };
}

/** The filter of `pipeline` under `config`: its sources, plus run-time streams if it takes them. */
export function pipelineFilter(
  config: {
    readonly streams: Readonly<Record<string, unknown>>;
    readonly runtimeStreams?: { readonly pipeline: string };
  },
  pipeline: { readonly name: string; readonly sources: readonly string[] },
): EsmFilterPattern {
  return esmFilterPattern(
    pipeline.sources,
    config.runtimeStreams?.pipeline === pipeline.name ? { declared: Object.keys(config.streams) } : undefined,
  );
}
