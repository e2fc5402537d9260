/**
 * Where a batch item's payload sits in the request text, so the envelope can carry the producer's
 * own JSON instead of serializing the parsed value again (serializing costs about as much as
 * parsing). Only called on text JSON.parse has already accepted, so the scan may assume valid JSON:
 * it tracks structure and skips string contents with indexOf rather than reading every character.
 *
 * Duplicate member names resolve as JSON.parse resolves them: the last one wins.
 */

import {
  BACKSLASH,
  CLOSE_BRACE,
  CLOSE_BRACKET,
  COLON,
  COMMA,
  isJsonSpace,
  OPEN_BRACE,
  OPEN_BRACKET,
  QUOTE,
  type Span,
} from "../json-chars.ts";

export type { Span };

function skipSpace(text: string, pos: number): number {
  while (isJsonSpace(text.charCodeAt(pos))) pos++;
  return pos;
}

/** `pos` is at an opening quote; returns the index after the closing one. */
function skipString(text: string, pos: number): number {
  let from = pos + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** `pos` is at the start of a value; returns the index after it. */
function skipValue(text: string, pos: number): number {
  const c = text.charCodeAt(pos);
  if (c === QUOTE) return skipString(text, pos);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    let i = pos;
    for (;;) {
      const d = text.charCodeAt(i);
      if (d === QUOTE) {
        i = skipString(text, i);
        continue;
      }
      if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return i + 1;
      i++;
    }
  }
  // A number or a literal: it ends at the next delimiter.
  let i = pos + 1;
  for (;;) {
    const d = text.charCodeAt(i);
    if (
      Number.isNaN(d) ||
      d === COMMA ||
      d === CLOSE_BRACE ||
      d === CLOSE_BRACKET ||
      d === 0x20 ||
      d === 0x0a ||
      d === 0x0d ||
      d === 0x09
    )
      return i;
    i++;
  }
}

/** Whether the member name in `text[start, end)` (quotes included) is `name`. */
function nameIs(text: string, start: number, end: number, name: string): boolean {
  const length = end - start - 2;
  if (length === name.length) return text.startsWith(name, start + 1);
  // Only an escaped name ("d\u0061ta") is longer than the name it spells; such names are rare.
  if (length < name.length) return false;
  for (let i = start + 1; i < end - 1; i++) {
    if (text.charCodeAt(i) === BACKSLASH) return JSON.parse(text.slice(start, end)) === name;
  }
  return false;
}

/** Where the object `memberSpan` last scanned ends (after its `}`): saves a second scan. */
let objectEnd = 0;

/** `pos` is at `{`; the span of member `name`'s value, or undefined when it is absent. */
function memberSpan(text: string, pos: number, name: string): Span | undefined {
  let found: Span | undefined;
  let i = skipSpace(text, pos + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) {
    objectEnd = i + 1;
    return undefined;
  }
  for (;;) {
    const keyEnd = skipString(text, i);
    const matches = nameIs(text, i, keyEnd, name);
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) throw new SyntaxError("expected ':' (text was not valid JSON)");
    const start = skipSpace(text, i + 1);
    const end = skipValue(text, start);
    if (matches) found = { start, end };
    i = skipSpace(text, end);
    if (text.charCodeAt(i) !== COMMA) {
      objectEnd = i + 1;
      return found;
    }
    i = skipSpace(text, i + 1);
  }
}

/**
 * For a top-level array of objects (`container` undefined) or an object whose member `container`
 * is such an array, the span of each element's member `field`, in element order: undefined where
 * the element is not an object or lacks the member. Undefined when the shape is not that.
 */
export function itemSpans(
  text: string,
  container: string | undefined,
  field: string,
): (Span | undefined)[] | undefined {
  let pos = skipSpace(text, 0);
  if (container !== undefined) {
    if (text.charCodeAt(pos) !== OPEN_BRACE) return undefined;
    const holder = memberSpan(text, pos, container);
    if (holder === undefined) return undefined;
    pos = holder.start;
  }
  if (text.charCodeAt(pos) !== OPEN_BRACKET) return undefined;
  const spans: (Span | undefined)[] = [];
  let i = skipSpace(text, pos + 1);
  if (text.charCodeAt(i) === CLOSE_BRACKET) return spans;
  for (;;) {
    if (text.charCodeAt(i) === OPEN_BRACE) {
      spans.push(memberSpan(text, i, field));
      i = skipSpace(text, objectEnd);
    } else {
      spans.push(undefined);
      i = skipSpace(text, skipValue(text, i));
    }
    if (text.charCodeAt(i) !== COMMA) return spans;
    i = skipSpace(text, i + 1);
  }
}

/** For a top-level object, the span of its member `field`'s value. */
export function fieldSpan(text: string, field: string): Span | undefined {
  const pos = skipSpace(text, 0);
  return text.charCodeAt(pos) === OPEN_BRACE ? memberSpan(text, pos, field) : undefined;
}
