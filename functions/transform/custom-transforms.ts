/**
 * Custom transforms shipped with Sluice. Add yours here (or in a file imported from here) with
 * `register`, and use them in the manifest as `- custom: name` with optional `options`.
 */
import { compilePath, defineField, type FieldPath, getPath } from "./paths.ts";
import { register } from "./registry.ts";

/**
 * A deliberately tiny lexicon: enough to route obviously happy or unhappy feedback, not a
 * language model. Weights follow the usual -3..3 valence scale.
 */
const LEXICON: ReadonlyMap<string, number> = new Map([
  ["love", 3],
  ["loved", 3],
  ["excellent", 3],
  ["amazing", 3],
  ["awesome", 3],
  ["fantastic", 3],
  ["perfect", 3],
  ["great", 2],
  ["happy", 2],
  ["wonderful", 2],
  ["helpful", 2],
  ["fast", 1],
  ["good", 1],
  ["nice", 1],
  ["like", 1],
  ["easy", 1],
  ["thanks", 1],
  ["fine", 1],
  ["hate", -3],
  ["hated", -3],
  ["terrible", -3],
  ["awful", -3],
  ["horrible", -3],
  ["worst", -3],
  ["useless", -2],
  ["bad", -2],
  ["broken", -2],
  ["angry", -2],
  ["disappointed", -2],
  ["slow", -1],
  ["poor", -1],
  ["confusing", -1],
  ["bug", -1],
  ["buggy", -2],
  ["crash", -2],
  ["crashes", -2],
]);

const NEGATORS = new Set(["not", "no", "never", "isn't", "wasn't", "don't", "doesn't", "didn't", "can't"]);

/** Scores text in [-1, 1]: the summed valence, squashed as VADER does (x / sqrt(x^2 + 15)). */
export function sentimentScore(text: string): number {
  let sum = 0;
  let negate = false;
  for (const word of text.toLowerCase().match(/[a-z']+/g) ?? []) {
    const weight = LEXICON.get(word);
    if (weight !== undefined) sum += negate ? -weight : weight;
    // A negator flips only the next word, which is how "not good" and "never slow" read.
    negate = NEGATORS.has(word);
  }
  return Math.round((sum / Math.sqrt(sum * sum + 15)) * 10_000) / 10_000;
}

const paths = new Map<string, FieldPath>();

/** Options: `field` (dotted path of the text, default "content"). */
register("sentiment", (record, options) => {
  const field = options.field ?? "content";
  if (typeof field !== "string" || field === "")
    throw new TypeError("sentiment: options.field must be a field path");
  let path = paths.get(field);
  if (path === undefined) {
    path = compilePath(field);
    paths.set(field, path);
  }
  const value = getPath(record, path);
  if (value !== undefined && value !== null && typeof value !== "string") {
    throw new TypeError(`sentiment: field ${field} is not text`);
  }
  const score = typeof value === "string" ? sentimentScore(value) : 0;
  defineField(record, "sentiment", score >= 0.05 ? "positive" : score <= -0.05 ? "negative" : "neutral");
  defineField(record, "sentimentScore", score);
  return record;
});
