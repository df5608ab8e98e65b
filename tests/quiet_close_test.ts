/**
 * QuietCloser, with fake sinks, a fake clock and an injected sleep: a
 * quiesced client gets nothing more, and is closed once it has ACKed the
 * latest frame it was sent, or when the bounded wait ends; one that never
 * ACKed is closed at once. The same over real sockets, while messages
 * flow, is in shutdown_test.ts.
 */
import assert from "node:assert/strict";
import { epochSeconds } from "../lib/protocol.ts";
import { NaiveMode } from "../server/modes/naive.ts";
import { QuietCloser } from "../server/http/quiet_close.ts";
import type { Session } from "../server/core/session.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

/** The ACK of the latest data frame `sink` received. */
function lastAck(sink: FakeSink): string {
  const f = JSON.parse(sink.frames.at(-1)!);
  return JSON.stringify({ ack_ts: f.ts_send, seq: f.seq });
}

function setup(bounds = { stallMs: 1000, maxWaitMs: 5000 }) {
  const clock = new FakeClock();
  const { hub, publish } = testHub(new NaiveMode(clock), clock);
  const closed: Session[] = [];
  let sleeps = 0;
  let wake: (() => void) | undefined;
  const closer = new QuietCloser(
    (s) => {
      closed.push(s);
      hub.close(s, "drain", "draining");
    },
    {
      ...bounds,
      pollMs: 10,
      now: clock.now,
      sleep: (ms) => {
        sleeps++;
        const { promise, resolve } = Promise.withResolvers<void>();
        wake = () => {
          clock.advance(ms);
          resolve();
        };
        return promise;
      },
    },
  );
  const send = () =>
    publish("default", { tsSend: epochSeconds(), payloadB64: "AA==" });
  /** Ends the poller's sleep (time passes) and lets it look; false when it is not sleeping. */
  const poll = async () => {
    const w = wake;
    wake = undefined;
    w?.();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    return w !== undefined;
  };
  return { hub, closer, closed, send, sleeps: () => sleeps, poll };
}

Deno.test("QuietCloser.close() closes a client that never sent anything at once", async () => {
  const { hub, closer, closed, send, sleeps } = setup();
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "mute" });
  await send();
  await closer.close(s);
  assert.deepEqual(closed, [s]);
  assert.equal(sink.closes[0]?.code, 1012);
  assert.equal(sleeps(), 0);
});

Deno.test("QuietCloser.close() sends a quiesced client nothing more and closes it once it ACKed the latest frame it was sent", async () => {
  const { hub, closer, closed, send, poll } = setup();
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "acking" });
  await send();
  hub.receive(s, lastAck(sink));
  await send(); // its ACK is on the way
  const frames = sink.frames.length;
  const ack = lastAck(sink);
  const done = closer.close(s);
  assert.equal(closer.has(s), true);
  await send(); // published while it waits: not sent to it
  assert.equal(sink.frames.length, frames, "nothing sent once quiesced");
  assert.ok(await poll());
  assert.ok(await poll());
  assert.equal(sink.closes.length, 0, "not closed before its ACK");
  hub.receive(s, ack); // the ACK arrives
  assert.ok(await poll());
  await done;
  assert.deepEqual(closed, [s]);
  assert.equal(sink.closes[0]?.code, 1012);
  assert.equal(closer.size, 0);
  assert.equal(await poll(), false, "the poller stopped");
});

Deno.test("QuietCloser.close() closes a client from which nothing more comes once it has been silent for stallMs", async () => {
  const { hub, closer, closed, send, sleeps, poll } = setup();
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "late" });
  await send();
  hub.receive(s, lastAck(sink));
  await send();
  const done = closer.close(s);
  while (await poll()) {
    if (sleeps() < 100) assert.equal(sink.closes.length, 0, "still waiting");
  }
  await done;
  assert.deepEqual(closed, [s]);
  assert.equal(sleeps(), 100, "1000 ms of 10-ms polls without a frame");
});

Deno.test("QuietCloser.close() waits while a client's frames keep coming, but closes it at maxWaitMs however they progress", async () => {
  const { hub, closer, closed, send, sleeps, poll } = setup({
    stallMs: 100,
    maxWaitMs: 300,
  });
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "behind" });
  await send();
  const first = lastAck(sink);
  hub.receive(s, first);
  await send(); // never ACKed
  const done = closer.close(s);
  while (await poll()) {
    // Something from the client every 50 ms: never silent for 100 ms.
    if (sleeps() % 5 === 0) hub.receive(s, first);
    if (sleeps() < 30) assert.equal(sink.closes.length, 0, "still waiting");
  }
  await done;
  assert.deepEqual(closed, [s]);
  assert.equal(sleeps(), 30, "closed at 300 ms, past the 100-ms stall");
});
