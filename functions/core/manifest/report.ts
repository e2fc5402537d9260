/** Collects errors and warnings with their YAML positions, and formats the ones that have none. */
import { isAbsolute, relative } from "node:path";
import type { LineCounter, YAMLError } from "yaml";
import type { ManifestIssue, ManifestIssueCode } from "./errors.ts";
import type { ManifestCheck } from "./load.ts";
import { type Anchor, formatPath, type Segment, type SourceMap } from "./positions.ts";

export class Reporter {
  readonly errors: ManifestIssue[] = [];
  readonly warnings: ManifestIssue[] = [];

  constructor(private readonly source: SourceMap) {}

  error(code: ManifestIssueCode, path: readonly Segment[], message: string, anchor: Anchor = "value"): void {
    this.errors.push(this.issue(code, path, message, anchor));
  }

  warn(code: ManifestIssueCode, path: readonly Segment[], message: string, anchor: Anchor = "value"): void {
    this.warnings.push(this.issue(code, path, message, anchor));
  }

  /** Whether an error was already reported at exactly this path. */
  hasErrorAt(path: readonly Segment[]): boolean {
    const formatted = formatPath(path);
    return this.errors.some((issue) => issue.path === formatted);
  }

  result(file: string): ManifestCheck {
    return { file, issues: sortIssues(dedupe(this.errors)), warnings: sortIssues(dedupe(this.warnings)) };
  }

  private issue(
    code: ManifestIssueCode,
    path: readonly Segment[],
    message: string,
    anchor: Anchor,
  ): ManifestIssue {
    const { line, column } = this.source.position(path, anchor);
    return { path: formatPath(path), line, column, message, code };
  }
}

export function positionless(code: ManifestIssueCode, message: string): ManifestIssue {
  return { path: "", line: 0, column: 0, message, code };
}

export function yamlIssue(error: YAMLError, lines: LineCounter, text: string): ManifestIssue {
  const { line, col } = lines.linePos(error.pos[0]);
  let message = error.message;
  if (error.code === "DUPLICATE_KEY") {
    const key = /^[^:\n]*/
      .exec(text.slice(error.pos[0]))?.[0]
      .trim()
      .replace(/^["']|["']$/g, "");
    message = key ? `duplicate key ${JSON.stringify(key)}` : "duplicate key";
  } else if (error.code === "MULTIPLE_DOCS") {
    message = 'a manifest is a single YAML document; remove the "---" separator';
  }
  return { path: "", line, column: col, message, code: "YAML_SYNTAX" };
}

function dedupe(issues: readonly ManifestIssue[]): ManifestIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.code}\u0000${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortIssues(issues: ManifestIssue[]): ManifestIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.column - b.column);
}

export function displayPath(absolute: string): string {
  const rel = relative(process.cwd(), absolute);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : absolute;
}

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "it is a directory";
  if (code === "EACCES") return "permission denied";
  return error instanceof Error ? error.message : String(error);
}
