/**
 * Per-stream retention as S3 lifecycle rules on a sink's bucket, from the manifest: a stream's
 * data expires under the static head of the sink's prefix template with `{stream}` filled in
 * (`feedback/` for `{stream}/dt={yyyy}-.../`), its pipelines' `errors/{pipeline}/` later. The CDK
 * sink and the local provisioner both apply these rules.
 */
import type { Manifest } from "../manifest/types.ts";

export interface RetentionRule {
  readonly id: string;
  readonly prefix: string;
  readonly days: number;
}

/** The prefix every file of `stream` has under `template`, or undefined when none narrows it. */
export function streamPrefix(template: string, stream: string): string | undefined {
  const filled = template.replaceAll("{stream}", stream);
  const open = filled.slice(0, filled.includes("{") ? filled.indexOf("{") : filled.length);
  // Whole segments only, so the rule reads as the stream's folder.
  const head = open.slice(0, open.lastIndexOf("/") + 1);
  return head.includes(stream) ? head : undefined;
}

/** The rules of one sink; a stream whose files share no stream-specific prefix gets none. */
export function retentionRules(manifest: Manifest, sinkName: string): RetentionRule[] {
  const sink = manifest.sinks.find((s) => s.name === sinkName);
  if (!sink) return [];
  const streams = new Map(manifest.streams.map((s) => [s.name, s]));
  const rules: RetentionRule[] = [];
  const seen = new Set<string>();
  for (const p of manifest.pipelines.filter((x) => x.sink === sinkName)) {
    let errorDays = 0;
    for (const name of p.sources) {
      const retention = streams.get(name)?.retention;
      if (!retention) continue;
      errorDays = Math.max(errorDays, retention.errorDays);
      const prefix = streamPrefix(sink.prefix, name);
      if (prefix === undefined || seen.has(prefix)) continue;
      seen.add(prefix);
      rules.push({ id: `retain-${name}`, prefix, days: retention.days });
    }
    if (errorDays > 0)
      rules.push({ id: `retain-errors-${p.name}`, prefix: `errors/${p.name}/`, days: errorDays });
  }
  return rules;
}
