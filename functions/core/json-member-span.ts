/**
 * Where a top-level member's value sits in JSON text given as UTF-8 bytes, found without parsing
 * the text: the batcher reads a record's envelope head with JSON.parse and hands the payload on as
 * bytes. Unlike `ingest/json-spans.ts`, the text has not been checked first, so the scan stops at
 * anything it cannot follow instead of assuming valid JSON; it checks only structure (strings
 * with their escapes, nesting, member separators), and whoever parses the pieces checks the rest.
 *
 * UTF-8 can be scanned byte by byte: every byte of a multi-byte character is 0x80 or above, so
 * none is taken for a quote, a backslash or a bracket.
 */

import { asBuffer } from "./bytes.ts";
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
  skipJsonSpace,
} from "./json-chars.ts";

/** `pos` is at an opening quote; the index after the closing one, or -1 when there is none. */
function skipString(bytes: Uint8Array, pos: number): number {
  // Most strings (names, ids, times) are short: a plain loop ends them sooner than a call to
  // indexOf would start. Long ones are left to indexOf.
  const inline = Math.min(bytes.length, pos + 24);
  let i = pos + 1;
  while (i < inline) {
    const c = bytes[i]!;
    if (c === QUOTE) return i + 1;
    i += c === BACKSLASH ? 2 : 1;
  }
  for (;;) {
    const q = bytes.indexOf(QUOTE, i);
    if (q < 0) return -1;
    // The quote closes the string unless an odd run of backslashes escapes it; `i` is not
    // inside an escape, so the run cannot reach back past it.
    let slashes = 0;
    while (q - 1 - slashes >= i && bytes[q - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** Bytes the container scan stops at: 1 a quote, 2 an opening bracket, 3 a closing one. */
const STRUCTURE = new Uint8Array(256);
STRUCTURE[QUOTE] = 1;
STRUCTURE[OPEN_BRACE] = 2;
STRUCTURE[OPEN_BRACKET] = 2;
STRUCTURE[CLOSE_BRACE] = 3;
STRUCTURE[CLOSE_BRACKET] = 3;

/** A number or a literal starts with one of these: `-0123456789tfn`. */
function startsScalar(c: number): boolean {
  return c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e;
}

/**
 * `pos` is at the start of a value; the index after it, or -1 when it cannot be followed. Brackets
 * are counted, not checked, so whoever parses the value checks it.
 */
export function skipValue(bytes: Uint8Array, pos: number): number {
  const c = bytes[pos];
  if (c === undefined) return -1;
  if (c === QUOTE) return skipString(bytes, pos);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    // Brackets are counted, not matched by kind: a mismatch is invalid JSON that the parser
    // of this span or of the text around it will reject.
    let depth = 0;
    let i = pos;
    while (i < bytes.length) {
      const kind = STRUCTURE[bytes[i]!];
      if (kind === 0) i++;
      else if (kind === 1) {
        i = skipString(bytes, i);
        if (i < 0) return -1;
      } else if (kind === 2) {
        depth++;
        i++;
      } else if (--depth === 0) return i + 1;
      else i++;
    }
    return -1;
  }
  if (!startsScalar(c)) return -1;
  let i = pos + 1;
  while (i < bytes.length) {
    const d = bytes[i]!;
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isJsonSpace(d)) break;
    i++;
  }
  return i;
}

/** Whether the member name in `bytes[start, end)` (quotes included) is `name` (ASCII). */
function nameIs(bytes: Uint8Array, start: number, end: number, name: string): boolean {
  const length = end - start - 2;
  if (length === name.length) {
    for (let i = 0; i < length; i++) if (bytes[start + 1 + i] !== name.charCodeAt(i)) return false;
    return true;
  }
  // Only an escaped name ("d\u0061ta") is longer than the name it spells; such names are rare.
  if (length < name.length) return false;
  let escaped = false;
  for (let i = start + 1; i < end - 1 && !escaped; i++) escaped = bytes[i] === BACKSLASH;
  if (!escaped) return false;
  try {
    return JSON.parse(asBuffer(bytes).toString("utf8", start, end)) === name;
  } catch {
    return false;
  }
}

/**
 * For text whose first value is an object, the span of the value of its member `name`, the last
 * one when the name repeats (JSON.parse keeps the last). Undefined when the member is absent or
 * the text's structure cannot be followed up to the object's closing brace. What follows that
 * brace is not looked at.
 *
 * When the text is valid JSON the span is exactly the member's value. When it is not, the span
 * is still a place a value could stand: if the text with the span replaced by `null` parses,
 * then the text is valid exactly when the span's own text is.
 */
export function memberValueSpan(bytes: Uint8Array, name: string): Span | undefined {
  let i = skipJsonSpace(bytes, 0);
  if (bytes[i] !== OPEN_BRACE) return undefined;
  i = skipJsonSpace(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACE) return undefined;
  let found: Span | undefined;
  for (;;) {
    if (bytes[i] !== QUOTE) return undefined;
    const keyEnd = skipString(bytes, i);
    if (keyEnd < 0) return undefined;
    const matches = nameIs(bytes, i, keyEnd, name);
    i = skipJsonSpace(bytes, keyEnd);
    if (bytes[i] !== COLON) return undefined;
    const start = skipJsonSpace(bytes, i + 1);
    const end = skipValue(bytes, start);
    if (end < 0) return undefined;
    if (matches) found = { start, end };
    i = skipJsonSpace(bytes, end);
    if (bytes[i] === CLOSE_BRACE) return found;
    if (bytes[i] !== COMMA) return undefined;
    i = skipJsonSpace(bytes, i + 1);
  }
}
