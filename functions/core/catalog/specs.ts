/**
 * What each sink's table is built from, read off the manifest in one place for the CDK app and
 * the local runner: the schemas its files are written with, and the streams and pipelines in it.
 */
import type { Manifest } from "../manifest/types.ts";
import type { LakeTableSpec } from "./table-input.ts";

export function sinkTableSpecs(
  manifest: Manifest,
  bucketOf: (sink: string) => string,
): Map<string, LakeTableSpec> {
  const schemaOf = new Map(manifest.schemas.map((s) => [s.name, s.schema]));
  const streamSchema = new Map(manifest.streams.map((s) => [s.name, schemaOf.get(s.schema)!]));
  return new Map(
    manifest.sinks.map((s) => {
      const feeding = manifest.pipelines.filter((p) => p.sink === s.name);
      // A pipeline with an output schema writes its columns; otherwise each source's own.
      const written = new Set(
        feeding.flatMap((p) =>
          p.schema !== undefined ? [schemaOf.get(p.schema)!] : p.sources.map((n) => streamSchema.get(n)!),
        ),
      );
      return [
        s.name,
        {
          tableName: s.name,
          bucketName: bucketOf(s.name),
          prefix: s.prefix,
          schemas: [...written],
          streams: [...new Set(feeding.flatMap((p) => p.sources))],
          pipelines: feeding.map((p) => p.name),
        },
      ];
    }),
  );
}
