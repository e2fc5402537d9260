/**
 * Record ids are ULIDs (https://github.com/ulid/spec): 48 bits of milliseconds and 80 random bits
 * in Crockford base32, so they sort by receive time. Within one millisecond the random part is
 * incremented, as the spec's monotonic mode does, so ids of one request keep their order.
 *
 * Written here rather than taken from the `ulid` package because it runs once per record on the
 * ingest hot path: the time prefix is encoded once per millisecond, random bytes are drawn from a
 * pooled buffer, and the random part is two 40-bit integers instead of a string to increment.
 */
import { randomFillSync } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TWO_40 = 2 ** 40;
const MAX_TIME = 2 ** 48 - 1;

const CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0));
const pool = new Uint8Array(4096);
let poolPos = pool.length;

function random40(): number {
  if (poolPos + 5 > pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const p = poolPos;
  poolPos += 5;
  return (
    pool[p]! * 2 ** 32 +
    ((pool[p + 1]! << 24) >>> 0) +
    (pool[p + 2]! << 16) +
    (pool[p + 3]! << 8) +
    pool[p + 4]!
  );
}

/** The id being built, as character codes: one flat string is made from them per id. */
const id = new Array<number>(26).fill(48);

/** 40 bits as 8 base32 characters at `at`. */
function put40(v: number, at: number): void {
  let high = Math.floor(v / 1048576);
  let low = v % 1048576;
  for (let i = at + 7; i >= at + 4; i--, low >>= 5) id[i] = CODES[low & 31]!;
  for (let i = at + 3; i >= at; i--, high >>= 5) id[i] = CODES[high & 31]!;
}

let lastTime = -1;
let randHigh = 0;
let randLow = 0;

export function newRecordId(now: number = Date.now()): string {
  if (!Number.isInteger(now) || now < 0 || now > MAX_TIME) throw new RangeError(`invalid ULID time ${now}`);
  if (now > lastTime) {
    lastTime = now;
    // 48 bits of time are 10 characters; the top 8 bits give the first two (the first is 0-7).
    const top = Math.floor(now / TWO_40);
    id[0] = CODES[top >> 5]!;
    id[1] = CODES[top & 31]!;
    put40(now % TWO_40, 2);
    randHigh = random40();
    randLow = random40();
    put40(randHigh, 10);
  } else if (++randLow === TWO_40) {
    // The clock went back or stood still: keep counting from the last id so ids still sort.
    randLow = 0;
    if (++randHigh === TWO_40) throw new Error("ULID random part overflowed within one millisecond");
    put40(randHigh, 10);
  }
  put40(randLow, 18);
  const c = id;
  return String.fromCharCode(
    c[0]!,
    c[1]!,
    c[2]!,
    c[3]!,
    c[4]!,
    c[5]!,
    c[6]!,
    c[7]!,
    c[8]!,
    c[9]!,
    c[10]!,
    c[11]!,
    c[12]!,
    c[13]!,
    c[14]!,
    c[15]!,
    c[16]!,
    c[17]!,
    c[18]!,
    c[19]!,
    c[20]!,
    c[21]!,
    c[22]!,
    c[23]!,
    c[24]!,
    c[25]!,
  );
}
