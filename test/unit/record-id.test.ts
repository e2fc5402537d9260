import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeTime, isValid } from "ulid";
import { newRecordId } from "../../functions/core/record-id.ts";

test("record ids are ULIDs whose time the reference implementation reads back", () => {
  // Ascending: ids carry on from the latest time seen when the clock steps back.
  for (const t of [0, 1, 1_700_000_000_000, Date.UTC(2026, 10, 23, 10)]) {
    const id = newRecordId(t);
    assert.match(id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    assert.ok(isValid(id), id);
    assert.equal(decodeTime(id), t);
  }
});

test("ids of one millisecond increase, and a clock that steps back keeps them increasing", () => {
  const t = Date.UTC(2030, 0, 1);
  const ids = Array.from({ length: 5000 }, (_, i) => newRecordId(i < 4000 ? t : t - 10));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
  assert.equal(new Set(ids).size, ids.length);
  const later = newRecordId(t + 1);
  assert.ok(later > ids.at(-1)!);
  assert.equal(decodeTime(later), t + 1);
});

test("random parts differ between milliseconds", () => {
  const a = newRecordId(Date.UTC(2031, 0, 1));
  const b = newRecordId(Date.UTC(2031, 0, 1) + 1);
  assert.notEqual(a.slice(10), b.slice(10));
  assert.throws(() => newRecordId(-1), RangeError);
  assert.throws(() => newRecordId(2 ** 48), RangeError);
  assert.equal(decodeTime(newRecordId(2 ** 48 - 1)), 2 ** 48 - 1);
});
