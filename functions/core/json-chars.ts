/**
 * JSON's structural characters, for the scanners that read JSON text without parsing it (request
 * bodies, envelopes, payloads). Their codes are the same as UTF-16 code units and as UTF-8 bytes:
 * every byte of a multi-byte UTF-8 character is 0x80 or above, so none is taken for one of these.
 */

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;

/** A piece of JSON text: `[start, end)`, in characters or bytes as its text counts them. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** JSON whitespace: space, tab, line feed, carriage return (not every Unicode space). */
export function isJsonSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The first position at or after `pos` in UTF-8 JSON text that is not whitespace. */
export function skipJsonSpace(bytes: Uint8Array, pos: number): number {
  while (isJsonSpace(bytes[pos])) pos++;
  return pos;
}
