import assert from "node:assert/strict";
import {
  decodeAck,
  decodeData,
  encodeAck,
  encodeData,
  MAX_CLIENT_FRAME_BYTES,
} from "../lib/protocol.ts";
import {
  CLOSE_CODES,
  fitCloseReason,
  MAX_CLOSE_REASON_BYTES,
} from "../lib/close_codes.ts";

Deno.test("encodeData() produces the seed's JSON frame that decodeData() reads back", () => {
  const text = encodeData(42, 1700000000.123456, "AAEC");
  assert.deepEqual(JSON.parse(text), {
    seq: 42,
    ts_send: 1700000000.123456,
    payload_b64: "AAEC",
  });
  assert.deepEqual(decodeData(text), {
    seq: 42,
    ts_send: 1700000000.123456,
    payload_b64: "AAEC",
  });
});

Deno.test("decodeData() accepts extra fields and rejects frames without seq or ts_send", async (t) => {
  assert.equal(
    decodeData('{"seq":1,"ts_send":2,"payload_b64":"","extra":true}').seq,
    1,
  );
  for (
    const bad of [
      "nope",
      "[]",
      "null",
      '{"ts_send":1}',
      '{"seq":"1","ts_send":1}',
      '{"seq":1.5,"ts_send":1}',
      '{"seq":1}',
      '{"seq":1,"ts_send":"now"}',
    ]
  ) {
    await t.step(bad, () => assert.throws(() => decodeData(bad), TypeError));
  }
});

Deno.test("decodeData() keeps a user message's data and channel; the seed's frames have neither", () => {
  const text = encodeData(3, 1700000000, "", {
    channel: "prices",
    dataJson: '{"px":[1,2]}',
  });
  const frame = decodeData(text);
  assert.deepEqual(frame.data, { px: [1, 2] });
  assert.equal(frame.channel, "prices");
  const seed = decodeData(encodeData(4, 1700000000, "AA=="));
  assert.equal("data" in seed || "channel" in seed, false);
});

Deno.test("encodeAck() round-trips through decodeAck()", () => {
  assert.deepEqual(decodeAck(encodeAck(1700000000.5, 9)), {
    ack_ts: 1700000000.5,
    seq: 9,
  });
});

Deno.test("decodeAck() rejects binary, malformed and oversized frames with the right error", async (t) => {
  const cases: [string, unknown, ErrorConstructor][] = [
    ["binary", new Uint8Array([1, 2]), TypeError],
    ["not JSON", "{ack", TypeError],
    ["array", "[1]", TypeError],
    ["missing ack_ts", '{"seq":1}', TypeError],
    ["string ack_ts", '{"ack_ts":"1","seq":1}', TypeError],
    ["non-integer seq", '{"ack_ts":1,"seq":1.5}', TypeError],
    [
      "oversized",
      `{"ack_ts":1,"seq":1,"pad":"${"x".repeat(MAX_CLIENT_FRAME_BYTES)}"}`,
      RangeError,
    ],
  ];
  for (const [name, data, type] of cases) {
    await t.step(name, () => assert.throws(() => decodeAck(data), type));
  }
});

Deno.test("CLOSE_CODES are unique and the slow-client codes are in 4000–4999", () => {
  const codes = Object.values(CLOSE_CODES).map((c) => c.code);
  assert.equal(new Set(codes).size, codes.length);
  for (
    const r of [
      "slow_drops",
      "slow_full",
      "ping_timeout",
      "protocol_error",
    ] as const
  ) {
    assert.ok(CLOSE_CODES[r].code >= 4000 && CLOSE_CODES[r].code <= 4999);
  }
});

Deno.test("fitCloseReason() cuts reasons to 123 bytes without splitting a character", () => {
  assert.equal(fitCloseReason("short"), "short");
  const long = "é".repeat(100); // 200 bytes
  const cut = fitCloseReason(long);
  assert.ok(new TextEncoder().encode(cut).length <= MAX_CLOSE_REASON_BYTES);
  assert.ok(!cut.includes("\uFFFD"));
});
