/** The batch memory shared by all column builders: typed-array arena and reusable value arrays. */

import { Arena } from "./arena.ts";
import { ValueArrays } from "./value-arrays.ts";

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // 64-bit values are written as two little-endian 32-bit halves.
  throw new Error("sluice parquet encoder requires a little-endian platform");
}

export const arena = new Arena();
export const valueArrays = new ValueArrays();
