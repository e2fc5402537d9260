/**
 * Deterministic generator of feedback.v1-like records for benchmarks and tests.
 * Same (n, seed) always gives the same records, so runs on different days compare.
 */

export interface FeedbackRecord {
  customerId: string;
  content: string;
  category: "praise" | "bug" | "feature" | "billing" | "other";
  isNegative: boolean;
  tags: string[];
  ts: string;
  /** Undeclared by feedback.v1 in about one record in ten, so `_extra` is exercised. */
  channel?: string;
}

/** mulberry32: tiny, fast, and good enough for synthetic data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the app crashes when I open settings after update checkout page is slow and payment fails twice " +
  "love new dashboard export to csv works great but search misses recent items please add dark mode " +
  "invoice shows wrong amount support answered quickly thanks login loops back to start on mobile " +
  "notifications arrive late sync between devices lost my notes would pay for team plan"
).split(" ");
// Real feedback is not all ASCII; a few records carry accents, CJK and emoji.
const UNICODE_WORDS = ["café", "naïve", "größer", "日本語", "très", "👍", "🚀", "ñandú", "Ελληνικά"];
const CATEGORIES = ["praise", "bug", "feature", "billing", "other"] as const;
const TAGS = [
  "mobile",
  "web",
  "ios",
  "android",
  "checkout",
  "search",
  "sync",
  "ui",
  "performance",
  "billing",
  "login",
  "export",
  "notifications",
  "enterprise",
  "trial",
];
const CHANNELS = ["email", "in-app", "chat", "survey"];
const BASE_MS = Date.UTC(2024, 5, 1, 0, 0, 0);

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

function iso(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.` +
    `${pad(d.getUTCMilliseconds(), 3)}Z`
  );
}

/** N records of about 300 bytes of JSON each. */
export function generateFeedback(n: number, seed = 42): FeedbackRecord[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: FeedbackRecord[] = new Array(n);
  let ms = BASE_MS;
  for (let i = 0; i < n; i++) {
    ms += Math.floor(rnd() * 2000);
    const target = 115 + Math.floor(rnd() * 80);
    const unicode = rnd() < 0.05;
    let content = "";
    while (content.length < target) {
      const w = unicode && rnd() < 0.15 ? pick(UNICODE_WORDS) : pick(WORDS);
      content = content.length === 0 ? w[0]!.toUpperCase() + w.slice(1) : `${content} ${w}`;
    }
    const tags: string[] = [];
    const tagCount = Math.floor(rnd() * 4);
    for (let t = 0; t < tagCount; t++) tags.push(pick(TAGS));
    const rec: FeedbackRecord = {
      customerId: `cus_${pad(Math.floor(rnd() * 50_000), 6)}`,
      content: `${content}.`,
      category: pick(CATEGORIES),
      isNegative: rnd() < 0.4,
      tags,
      ts: iso(ms),
    };
    if (rnd() < 0.1) rec.channel = pick(CHANNELS);
    out[i] = rec;
  }
  return out;
}

/** Records as newline-delimited JSON (one record per line, trailing newline). */
export function toNdjson(records: readonly unknown[]): string {
  let s = "";
  for (const r of records) s += `${JSON.stringify(r)}\n`;
  return s;
}

/** Convenience: `generateFeedback` straight to NDJSON text. */
export function generateFeedbackNdjson(n: number, seed = 42): string {
  return toNdjson(generateFeedback(n, seed));
}
