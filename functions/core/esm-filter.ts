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

/** What decides which streams a pipeline reads. */
export interface PipelineStreams {
  readonly sources: readonly string[];
  /** Set on the pipeline that takes run-time streams: every stream the manifest declares. */
  readonly runtimeStreams?: { readonly declared: readonly string[] };
}

export function pipelineFilter(pipeline: PipelineStreams): EsmFilterPattern {
  const runtime = pipeline.runtimeStreams;
  return {
    data: {
      stream: [...pipeline.sources, ...(runtime ? [{ "anything-but": [...runtime.declared] }] : [])],
    },
  };
}

/** The same choice as the filter, for the batcher to apply again to what it is given. */
export function readsStream(pipeline: PipelineStreams): (stream: string) => boolean {
  const sources = new Set(pipeline.sources);
  const declared = pipeline.runtimeStreams ? new Set(pipeline.runtimeStreams.declared) : undefined;
  return (stream) => sources.has(stream) || (declared !== undefined && !declared.has(stream));
}
