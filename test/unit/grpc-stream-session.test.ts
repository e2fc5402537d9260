import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ForwardOutcome } from "../../functions/grpc-proxy/forwarder.ts";
import type { AckMessage, RecordMessage } from "../../functions/grpc-proxy/protos.ts";
import type { ForwardItem } from "../../functions/grpc-proxy/records.ts";
import { type Refusal, unreachable } from "../../functions/grpc-proxy/status.ts";
import {
  type CoalescingLimits,
  SHUTTING_DOWN,
  StreamSession,
} from "../../functions/grpc-proxy/stream-session.ts";

const LIMITS: CoalescingLimits = {
  maxBatchRecords: 500,
  maxBatchBytes: 5 * 1024 * 1024,
  lingerMs: 10,
  maxInFlightBatches: 2,
  maxBufferedRecords: 1_500,
  maxBufferedBytes: 15 * 1024 * 1024,
};

interface Sent {
  stream: string;
  items: readonly ForwardItem[];
  answer(outcome?: ForwardOutcome): void;
}

/** A session whose sends wait until the test answers them, recording everything it does. */
function harness(limits: Partial<CoalescingLimits> = {}, opts: { writeReturns?: () => boolean } = {}) {
  const sent: Sent[] = [];
  const acks: AckMessage[] = [];
  const reading: boolean[] = [];
  let finished: { status: Refusal | undefined } | undefined;
  const session = new StreamSession(
    { ...LIMITS, ...limits },
    {
      send: (stream, items) =>
        new Promise<ForwardOutcome>((resolve) => {
          sent.push({
            stream,
            items,
            answer: (outcome) =>
              resolve(
                outcome ?? {
                  kind: "results",
                  results: items.map((it) => ({
                    recordId: `id:${JSON.parse(it.text).data.n}`,
                    status: "accepted",
                  })),
                },
              ),
          });
        }),
      write: (ack) => {
        acks.push(ack);
        return opts.writeReturns?.() ?? true;
      },
      setReading: (r) => reading.push(r),
      finish: (status) => {
        finished = { status };
      },
    },
  );
  return {
    session,
    sent,
    acks,
    reading,
    finished: () => finished,
    async answerAll() {
      for (const s of sent.splice(0)) s.answer();
      await sleep(0);
    },
  };
}

const record = (n: number, stream = "feedback", extra: Partial<RecordMessage> = {}): RecordMessage => ({
  stream,
  payload: "json",
  json: Buffer.from(JSON.stringify({ n })),
  clientId: String(n),
  ...extra,
});

describe("StreamSession", () => {
  test("1,200 records of one stream go out as 500 + 500 + 200, the last after its linger", async () => {
    const h = harness({ maxInFlightBatches: 4 });
    for (let i = 0; i < 1_200; i++) h.session.push(record(i));
    assert.deepEqual(
      h.sent.map((s) => s.items.length),
      [500, 500],
    );
    await sleep(30);
    assert.deepEqual(
      h.sent.map((s) => s.items.length),
      [500, 500, 200],
    );
    h.session.end();
    await h.answerAll();
    assert.deepEqual(
      h.acks.map((a) => a.clientId),
      Array.from({ length: 1_200 }, (_, i) => String(i)),
    );
    assert.deepEqual(h.finished(), { status: undefined });
  });

  test("a batch closes before its body would pass the byte limit", () => {
    const h = harness({ maxBatchBytes: 1_000 });
    const padded = (n: number) =>
      record(n, "feedback", { json: Buffer.from(JSON.stringify({ n, pad: "x".repeat(400) })) });
    for (let i = 0; i < 3; i++) h.session.push(padded(i));
    assert.equal(h.sent.length, 1);
    assert.equal(h.sent[0]!.items.length, 2);
    const body = 14 + h.sent[0]!.items.reduce((sum, it) => sum + it.bytes + 1, -1);
    assert.ok(body <= 1_000);
  });

  test("acks keep the records' order across streams, local rejections and answers out of order", async () => {
    const h = harness();
    h.session.push(record(0, "a"));
    h.session.push(record(1, "b"));
    h.session.push(record(2, "a", { json: Buffer.from("{") }));
    h.session.push(record(3, "a"));
    h.session.end();
    assert.deepEqual(
      h.sent.map((s) => [s.stream, s.items.length]),
      [
        ["a", 2],
        ["b", 1],
      ],
    );
    h.sent[1]!.answer();
    await sleep(0);
    assert.equal(h.acks.length, 0, "nothing overtakes record 0");
    h.sent[0]!.answer();
    await sleep(0);
    assert.deepEqual(
      h.acks.map((a) => [a.clientId, a.status, a.errorCode]),
      [
        ["0", "ACK_STATUS_ACCEPTED", undefined],
        ["1", "ACK_STATUS_ACCEPTED", undefined],
        ["2", "ACK_STATUS_REJECTED", "INVALID_JSON"],
        ["3", "ACK_STATUS_ACCEPTED", undefined],
      ],
    );
    assert.deepEqual(
      h.acks.map((a) => a.recordId),
      ["id:0", "id:1", undefined, "id:3"],
    );
  });

  test("flow control: reading stops when the buffer is full and resumes as acks drain; in-flight stays bounded", async () => {
    const h = harness();
    let pushed = 0;
    while (h.session.isReading) h.session.push(record(pushed++));
    assert.equal(pushed, 1_500);
    assert.deepEqual(h.reading, [false]);
    assert.equal(h.sent.length, 2, "two requests in flight, the third batch waits");
    h.sent.shift()!.answer();
    await sleep(0);
    assert.equal(h.acks.length, 500);
    assert.deepEqual(h.reading, [false, true]);
    assert.equal(h.sent.length, 2, "the waiting batch went out when a request slot freed");
    assert.equal(h.sent[1]!.items.length, 500, "it kept filling while it waited");
  });

  test("a client that does not read its acks stops the reading until it drains", async () => {
    let accept = true;
    const h = harness({}, { writeReturns: () => accept });
    h.session.push(record(0));
    h.session.push(record(1));
    accept = false;
    await sleep(20);
    h.sent[0]!.answer();
    await sleep(0);
    assert.equal(h.acks.length, 1, "one write was refused: the rest wait");
    assert.equal(h.session.isReading, false);
    accept = true;
    h.session.drained();
    assert.equal(h.acks.length, 2);
    assert.equal(h.session.isReading, true);
  });

  test("refused credentials end the stream after every record read has its ack", async () => {
    const h = harness({ maxBatchRecords: 2, maxInFlightBatches: 1 });
    for (let i = 0; i < 6; i++) h.session.push(record(i));
    const unauthenticated: Refusal = {
      code: "UNAUTHENTICATED",
      message: "missing credentials",
      grpcStatus: 16,
      endsStream: true,
    };
    h.sent[0]!.answer({ kind: "refused", refusal: unauthenticated });
    await sleep(0);
    assert.equal(h.sent.length, 1, "nothing more is forwarded");
    assert.deepEqual(
      h.acks.map((a) => [a.clientId, a.errorCode, a.errorMessage]),
      [
        ["0", "UNAUTHENTICATED", "missing credentials"],
        ["1", "UNAUTHENTICATED", "missing credentials"],
        ["2", "UNAUTHENTICATED", "not forwarded: missing credentials"],
        ["3", "UNAUTHENTICATED", "not forwarded: missing credentials"],
        ["4", "UNAUTHENTICATED", "not forwarded: missing credentials"],
        ["5", "UNAUTHENTICATED", "not forwarded: missing credentials"],
      ],
    );
    assert.equal(h.finished()?.status, unauthenticated);
  });

  test("when the target goes away, batches already answered keep their acks", async () => {
    const h = harness({ maxBatchRecords: 2, maxInFlightBatches: 2 });
    for (let i = 0; i < 4; i++) h.session.push(record(i));
    h.sent[0]!.answer({ kind: "refused", refusal: unreachable("connection refused") });
    h.sent[1]!.answer();
    await sleep(0);
    h.session.end();
    assert.deepEqual(
      h.acks.map((a) => a.status),
      ["ACK_STATUS_REJECTED", "ACK_STATUS_REJECTED", "ACK_STATUS_ACCEPTED", "ACK_STATUS_ACCEPTED"],
    );
    assert.equal(h.finished()?.status?.code, "UNAVAILABLE");
  });

  test("a refusal about the records (unknown stream) rejects them and the stream goes on", async () => {
    const h = harness();
    h.session.push(record(0, "nope"));
    h.session.push(record(1, "feedback"));
    h.session.end();
    h.sent[0]!.answer({
      kind: "refused",
      refusal: { code: "UNKNOWN_STREAM", message: "no", path: "/stream", grpcStatus: 5, endsStream: false },
    });
    h.sent[1]!.answer();
    await sleep(0);
    assert.deepEqual(
      h.acks.map((a) => [a.status, a.errorCode, a.errorPath]),
      [
        ["ACK_STATUS_REJECTED", "UNKNOWN_STREAM", "/stream"],
        ["ACK_STATUS_ACCEPTED", undefined, undefined],
      ],
    );
    assert.deepEqual(h.finished(), { status: undefined });
  });

  test("shutdown forwards what was read without waiting out the linger, then ends UNAVAILABLE", async () => {
    const h = harness({ lingerMs: 60_000 });
    h.session.push(record(0));
    const drained = h.session.shutdown();
    assert.equal(h.sent.length, 1);
    assert.equal(h.session.isReading, false);
    await h.answerAll();
    await drained;
    assert.equal(h.acks.length, 1);
    assert.equal(h.finished()?.status, SHUTTING_DOWN);
  });

  test("after a cancel nothing is written", async () => {
    const h = harness();
    h.session.push(record(0));
    await sleep(20);
    h.session.cancel();
    await h.answerAll();
    assert.equal(h.acks.length, 0);
    assert.equal(h.finished(), undefined);
    await h.session.finished;
  });
});
