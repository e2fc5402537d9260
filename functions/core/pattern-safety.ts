// Chosen over RE2: re2js cost 11-23% of ingest throughput with two patterns; this check costs nothing per record.
/**
 * Schema patterns stay JS RegExp (ajv's `u` flag) on the record path; at registration each one is
 * refused when it does not compile, or when recheck finds (or cannot rule out in time) inputs on
 * which it backtracks super-linearly: one such record would stall every request in the process.
 */
import { createRequire } from "node:module";
import type { checkSync as CheckSync, Diagnostics } from "recheck";

/** Wall-clock a whole registration may spend checking patterns; it blocks its process meanwhile. */
export const PATTERN_CHECK_BUDGET_MS = 5_000;
/** Per pattern: recheck's fuzzer can take seconds on long bounded repeats. */
const PATTERN_TIMEOUT_MS = 2_500;
/** The widened pattern's automaton check: milliseconds when it applies at all. */
const WIDENED_TIMEOUT_MS = 300;

let checker: typeof CheckSync | undefined;

/** recheck's in-process checker (its browser build: no worker, no native binary, no env). */
function recheck(): typeof CheckSync {
  // 2.9 MB that takes ~200 ms to load: only a registration pays. In a bundle `require` is the
  // banner's and esbuild inlines the module behind it; under tsx it comes from node_modules.
  checker ??= (
    (typeof require === "function"
      ? require("recheck/lib/browser.js")
      : createRequire(import.meta.url)("recheck/lib/browser.js")) as { checkSync: typeof CheckSync }
  ).checkSync;
  return checker;
}

/**
 * `pattern` with every `{m,n}` quantifier widened to `*` or `+`. A regex that is linear this way
 * is linear as written (each backtracking path maps to one of the wider regex's), and recheck
 * proves it in milliseconds instead of fuzzing bounded repeats for a second.
 */
export function widenBoundedRepeats(pattern: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\") {
      // \p{..}, \P{..} and \u{..} carry braces that are not quantifiers.
      const braced = /^[pPu]\{[^}]*\}/.exec(pattern.slice(i + 1));
      const escaped = braced ? braced[0] : pattern.slice(i + 1, i + 2);
      out += c + escaped;
      i += escaped.length;
      continue;
    }
    if (inClass) {
      inClass = c !== "]";
    } else if (c === "[") {
      inClass = true;
    } else if (c === "{") {
      const quantifier = /^\{(\d+)(,\d*)?\}/.exec(pattern.slice(i));
      if (quantifier) {
        out += Number(quantifier[1]) === 0 ? "*" : "+";
        i += quantifier[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

const GROWTH: Record<number, string> = { 2: "quadratic", 3: "cubic" };

function describe(result: Diagnostics): string | undefined {
  if (result.status === "safe") return undefined;
  if (result.status === "vulnerable") {
    const { complexity } = result;
    const growth =
      complexity.type === "exponential"
        ? "exponential"
        : (GROWTH[complexity.degree] ?? `degree-${complexity.degree} polynomial`);
    return `regex can backtrack catastrophically (${growth} time, e.g. on ${result.attack.pattern}); rewrite it so no two parts of it can match the same text`;
  }
  if (result.error.kind === "timeout") {
    return "regex could not be shown free of catastrophic backtracking in time; simplify it";
  }
  const why = "message" in result.error ? `: ${result.error.message}` : "";
  return `regex could not be checked for catastrophic backtracking (${result.error.kind}${why})`;
}

/** Settled verdicts by pattern source (a timeout is not one): patterns recur across versions. */
const verdicts = new Map<string, string | undefined>();

/**
 * A checker for one registration, all its patterns sharing one budget: it answers undefined for an
 * accepted pattern, otherwise the reason (for a syntax error, the engine's own message).
 */
export function patternChecker(budgetMs = PATTERN_CHECK_BUDGET_MS): (source: string) => string | undefined {
  const deadline = Date.now() + budgetMs;
  const left = (cap: number) => Math.max(1, Math.min(cap, deadline - Date.now()));
  return (source) => {
    try {
      new RegExp(source, "u");
    } catch (err) {
      return (err as Error).message;
    }
    if (verdicts.has(source)) return verdicts.get(source);
    const check = recheck();
    const wide = widenBoundedRepeats(source);
    const widened = check(wide, "u", { checker: "automaton", timeout: left(WIDENED_TIMEOUT_MS) });
    // Widened is sound only to accept, unless it is the pattern as written; else the pattern decides.
    const settled = widened.status === "safe" || (wide === source && widened.status === "vulnerable");
    const result = settled ? widened : check(source, "u", { timeout: left(PATTERN_TIMEOUT_MS) });
    if (result.status !== "unknown" || result.error.kind !== "timeout") {
      if (verdicts.size >= 1_000) verdicts.clear();
      verdicts.set(source, describe(result));
    }
    return describe(result);
  };
}
