/**
 * Slow is a client's, overload is the server's: with fake sinks and an
 * injected clock, a writer the server never got to run is not slow, a
 * client that does not drain while its peers do is, what the overload
 * costs is shed (counted, never charged to anybody), and the synthetic
 * source skips ahead instead of making itself later.
 */
import assert from "node:assert/strict";
import { OverloadMonitor } from "../server/core/overload.ts";
import { QueueMode } from "../server/modes/queue.ts";
import { runSyntheticSource } from "../server/sources/source_synthetic.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

const HOT = { loopLagMs: 400, sourceLagMs: 0 };
const CALM = { loopLagMs: 0, sourceLagMs: 0 };
const PAYLOAD = "x".repeat(1000);

/**
 * Four clients whose sockets keep what they are sent until the test says
 * the client read it: more than a socket's worth per tick backs them all up.
 */
function fourClients(clock: FakeClock) {
  const mode = new QueueMode({
    queue: { maxsize: 10, maxBytes: Infinity, policy: "drop-oldest" },
    limits: { dropLimit: 5, fullTimeoutMs: 1000 },
    scheduler: clock,
  });
  const { hub, publish } = testHub(mode, clock);
  const sinks = [0, 1, 2, 3].map(() => {
    const sink = new FakeSink();
    sink.stalled = true;
    return sink;
  });
  const sessions = sinks.map((sink, i) => hub.open(sink, { remote: `c${i}` }));
  return { mode, hub, sinks, sessions, publish };
}

/**
 * One housekeeping tick's worth of load: 100 messages (more than a socket's
 * 64 KiB and a queue hold), then each client in `reads` reads what it was sent,
 * once, the way a client the server starves of CPU time reads late.
 */
async function tickOfLoad(
  t: ReturnType<typeof fourClients>,
  clock: FakeClock,
  reads: readonly boolean[],
  signals = HOT,
  messages = 100,
) {
  for (let i = 0; i < messages; i++) {
    await t.publish("default", { tsSend: 1, payloadB64: PAYLOAD });
  }
  t.sinks.forEach((sink, i) => {
    if (reads[i]) sink.bufferedAmount = 0;
  });
  await clock.run(20); // the drain watcher wakes the writers that drained
  clock.advance(230);
  t.hub.tick(signals);
}

Deno.test("overload: writers the server could not keep up with are not slow — nobody is cut, the drops are shed and counted", async () => {
  const clock = new FakeClock();
  const t = fourClients(clock);
  for (let tick = 0; tick < 8; tick++) {
    // Everyone drains alike, but less than the server offered: the server
    // is behind (HOT), not any one client.
    await tickOfLoad(t, clock, [true, true, true, true]);
  }
  assert.ok(t.hub.overload.overloaded);
  assert.deepEqual(t.sessions.map((s) => s.closed), [
    false,
    false,
    false,
    false,
  ]);
  const drops = [...t.hub.subscribers()].reduce((n, s) => n + s.drops, 0);
  assert.ok(drops > 20, `${drops} messages dropped (load was shed)`);
  assert.equal(t.hub.shed, drops, "every drop counted as shed, none charged");
  t.mode.stop();
});

Deno.test("overload: nobody is cut while the server sheds, not even a client that does not drain; once calm it is judged", async () => {
  const clock = new FakeClock();
  const t = fourClients(clock);
  for (let tick = 0; tick < 8; tick++) {
    await tickOfLoad(t, clock, [true, true, true, false]); // #3 reads nothing
  }
  assert.ok(t.hub.overload.overloaded);
  assert.ok(t.sessions.every((s) => !s.closed), "no cut while shedding");
  assert.ok(
    [...t.hub.subscribers()].find((v) => v.id === t.sessions[3]!.id)!.drops > 0,
  );
  for (let tick = 0; tick < 8 && !t.sessions[3]!.closed; tick++) {
    // A load the readers keep up with: only #3 is behind now.
    await tickOfLoad(t, clock, [true, true, true, false], CALM, 20);
  }
  assert.equal(t.hub.overload.overloaded, false);
  assert.equal(t.sessions[3]!.end?.reason, "slow_drops");
  assert.match(t.sessions[3]!.end!.detail, /over --drop-limit 5/);
  assert.deepEqual(t.sessions.slice(0, 3).map((s) => s.closed), [
    false,
    false,
    false,
  ]);
  t.mode.stop();
});

Deno.test("overload ends: once the server keeps up, a client's own drops count against it again", async () => {
  const clock = new FakeClock();
  const t = fourClients(clock);
  await tickOfLoad(t, clock, [true, true, true, true]);
  assert.ok(t.hub.overload.overloaded);
  for (let tick = 0; tick < 6; tick++) {
    await tickOfLoad(t, clock, [true, true, true, true], CALM);
  }
  assert.equal(t.hub.overload.overloaded, false, "calm for over a second");
  const shedBefore = t.hub.shed;
  // Calm now: a client that still cannot take what it is sent is slow.
  await tickOfLoad(t, clock, [false, false, false, false], CALM);
  assert.ok(t.sessions.every((s) => s.end?.reason === "slow_drops"));
  assert.equal(t.hub.shed, shedBefore, "nothing more shed while calm");
  t.mode.stop();
});

Deno.test("OverloadMonitor enters at once on loop or source lag and leaves only after a calm second", () => {
  const m = new OverloadMonitor();
  assert.equal(m.update({ loopLagMs: 20, sourceLagMs: 100 }, 0), false);
  assert.equal(m.update({ loopLagMs: 0, sourceLagMs: 300 }, 250), true);
  assert.equal(m.episodes, 1);
  // Under the thresholds but not calm (over half): stays, and no calm clock.
  assert.equal(m.update({ loopLagMs: 70, sourceLagMs: 0 }, 500), true);
  assert.equal(m.update({ loopLagMs: 0, sourceLagMs: 0 }, 750), true);
  assert.equal(m.update({ loopLagMs: 0, sourceLagMs: 0 }, 1500), true);
  assert.equal(m.update({ loopLagMs: 0, sourceLagMs: 0 }, 1750), false);
  assert.equal(m.overloadedMs, 1500);
  assert.equal(m.update({ loopLagMs: 500, sourceLagMs: 0 }, 2000), true);
  assert.equal(m.episodes, 2);
});

Deno.test("the synthetic source, far behind its schedule, skips ahead and counts the shed instead of publishing a backlog", async () => {
  let offset = 0;
  const now = () => performance.now() + offset;
  const stop = new AbortController();
  const seen: number[] = [];
  let publishedAtJump = -1;
  const { stats, done } = runSyntheticSource(
    (body) => {
      seen.push(body.tsSend);
      if (seen.length === 20) {
        offset += 3000; // the event loop was stuck for 3 s
        publishedAtJump = seen.length;
      }
      if (seen.length === 40) stop.abort();
      return Promise.resolve({
        channel: "default",
        epoch: "e",
        first: 0,
        last: 0,
      });
    },
    { rate: 100, payloadBytes: 8, signal: stop.signal, now },
  );
  await done;
  assert.equal(publishedAtJump, 20);
  assert.ok(
    stats.shed >= 290 && stats.shed <= 310,
    `${stats.shed} of the ~300 messages due in the stall were shed`,
  );
  // After the jump it publishes on the new schedule (no burst of 300).
  const gap = seen[20]! - seen[19]!;
  assert.ok(
    gap > 2.9 && gap < 3.2,
    `ts_send jumps ahead with the schedule, by the stall (3 s), got ${
      gap.toFixed(2)
    } s`,
  );
  assert.ok(
    stats.lag.max < 3100 && stats.lag.percentile(50) < 50,
    "lag was recorded once, then the source was on time again",
  );
});

Deno.test("overload: most clients behind at once is the server's problem (a shared reader, or writes it cannot keep up with) — even with an on-time loop and source nobody is cut; a few slow ones among readers are cut", async () => {
  const run = async (slow: number) => {
    const clock = new FakeClock();
    const mode = new QueueMode({
      queue: { maxsize: 10, maxBytes: Infinity, policy: "drop-oldest" },
      limits: { dropLimit: 5, fullTimeoutMs: 1000 },
      scheduler: clock,
    });
    const { hub, publish } = testHub(mode, clock);
    const sinks = Array.from({ length: 20 }, (_, i) => {
      const sink = new FakeSink();
      sink.stalled = i < slow;
      return sink;
    });
    const sessions = sinks.map((sink, i) =>
      hub.open(sink, { remote: `c${i}` })
    );
    for (let tick = 0; tick < 12; tick++) {
      for (let i = 0; i < 100; i++) {
        await publish("default", { tsSend: 1, payloadB64: PAYLOAD });
      }
      await clock.run(20);
      clock.advance(230);
      hub.tick(CALM); // the loop and the source are on time
    }
    mode.stop();
    return {
      overloaded: hub.overload.overloaded,
      cut: sessions.filter((s) => s.closed).length,
      shed: hub.shed,
    };
  };
  const crowd = await run(15); // 15 of 20 behind
  assert.equal(crowd.overloaded, true);
  assert.equal(crowd.cut, 0, "nobody cut while most are behind");
  assert.ok(crowd.shed > 0, "what did not fit was shed");
  const few = await run(3); // 3 of 20: under the minimum and the share
  assert.equal(few.overloaded, false);
  assert.equal(few.cut, 3, "the slow ones are their own problem");
});
