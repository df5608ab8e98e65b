import assert from "node:assert/strict";
import { SimClient } from "../client/sim_client.ts";
import { waitFor, WsFixture } from "./_ws_fixture.ts";

const MiB = 1024 * 1024;

Deno.test("SimClient makes the server buffer megabytes when it is slow and not when it is fast", async () => {
  // 64 KiB frames at 100/s (~8.7 MB/s on the wire): the loopback socket
  // buffers (~4-5 MB) fill within a second or two, then Deno's server-side
  // `bufferedAmount` must grow for a client that really stops reading.
  await using fixture = WsFixture.start({ rate: 100, payloadBytes: 65536 });
  await using fast = new SimClient(fixture.url, { id: "fast-0" });
  fast.run();
  await waitFor(() => fixture.openCount === 1, "the fast client");
  const slow = new SimClient(fixture.url, { id: "slow-0", slowMs: 200 });
  try {
    slow.run();
    await waitFor(() => fixture.openCount === 2, "the slow client");
    const slowSide = fixture.sockets[1]!;
    await waitFor(
      () => slowSide.maxBufferedAmount > 8 * MiB,
      "the slow client's server-side buffer to pass 8 MiB",
      15_000,
    );
  } finally {
    const before = slow.snapshot().messages;
    await slow.stop();
    // Stopping never reads through the megabytes of unread frames first:
    // it reads less than half of what the server holds for it (64 KiB each).
    const backlog = fixture.sockets[1]!.maxBufferedAmount / 65536;
    assert.ok(
      slow.snapshot().messages - before < backlog / 2,
      `read ${slow.snapshot().messages - before} of ~${backlog} while stopping`,
    );
  }
  const fastSide = fixture.sockets[0]!;
  const slowSide = fixture.sockets[1]!;
  const f = fast.snapshot();
  const s = slow.snapshot();
  console.log(
    `server-side bufferedAmount max: slow ${
      (slowSide.maxBufferedAmount / MiB).toFixed(1)
    } MiB, fast ${(fastSide.maxBufferedAmount / 1024).toFixed(1)} KiB; ` +
      `messages slow ${s.messages} fast ${f.messages}; ` +
      `p99 slow ${s.latency.p99} ms fast ${f.latency.p99} ms`,
  );
  assert.ok(fastSide.maxBufferedAmount < 1 * MiB);
  assert.ok(slowSide.maxBufferedAmount > 8 * fastSide.maxBufferedAmount);
  assert.ok(f.messages > 4 * s.messages);
  assert.ok(s.latency.p99 > 10 * f.latency.p99);
});
