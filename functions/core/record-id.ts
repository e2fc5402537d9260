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

/** Every 10-bit value as its two base32 characters. */
const PAIRS: readonly string[] = Array.from(
  { length: 1024 },
  (_, v) => ALPHABET[v >> 5]! + ALPHABET[v & 31]!,
);

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

/** 40 bits as 8 base32 characters. */
function encode40(v: number): string {
  const high = Math.floor(v / 1048576);
  const low = v % 1048576;
  return PAIRS[high >> 10]! + PAIRS[high & 1023]! + PAIRS[low >> 10]! + PAIRS[low & 1023]!;
}

let lastTime = -1;
let timePart = "";
let randHigh = 0;
let randLow = 0;
/** Time and the high random half: they change together, rarely, so are joined once. */
let prefix = "";

export function newRecordId(now: number = Date.now()): string {
  if (!Number.isInteger(now) || now < 0 || now > MAX_TIME) throw new RangeError(`invalid ULID time ${now}`);
  if (now > lastTime) {
    lastTime = now;
    // 48 bits of time are 10 characters: the top 8 bits give the first two (the first is 0-7).
    timePart = PAIRS[Math.floor(now / TWO_40)]! + encode40(now % TWO_40);
    randHigh = random40();
    randLow = random40();
    prefix = timePart + encode40(randHigh);
  } else if (++randLow === TWO_40) {
    // The clock went back or stood still: keep counting from the last id so ids still sort.
    randLow = 0;
    if (++randHigh === TWO_40) throw new Error("ULID random part overflowed within one millisecond");
    prefix = timePart + encode40(randHigh);
  }
  return prefix + encode40(randLow);
}
