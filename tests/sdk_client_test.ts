/**
 * The SDK's `FanoutClient` against a real server on 127.0.0.1 (Deno's own
 * browser-style WebSocket): resume mid-stream with no hole and no
 * duplicate, `reset` after a restart on the same port, a `gap` when the
 * history is too short, a terminal close that stops it, `?batch=1` arrays
 * unwrapped, ACKs.
 */
import assert from "node:assert/strict";
import type { HubEvent, RunningServer, ServerOptions } from "../server/mod.ts";
import {
  FanoutClient,
  type FanoutClientOptions,
  type FanoutCloseEvent,
  type FanoutMessage,
  type GapEvent,
  type ResetEvent,
} from "../sdk/mod.ts";
import { startTestServer, waitFor } from "./_helpers.ts";

/** Fast reconnects so a test does not wait on the 250 ms default. */
const QUICK = { initialMs: 20, maxMs: 200 };

/** A client and everything it emitted. */
function recorded(url: string, options: FanoutClientOptions = {}) {
  const client = new FanoutClient(url, { backoff: QUICK, ...options });
  const messages: FanoutMessage[] = [];
  const closes: FanoutCloseEvent[] = [];
  const resets: ResetEvent[] = [];
  const gaps: GapEvent[] = [];
  client.on("message", (m) => messages.push(m));
  client.on("close", (e) => closes.push(e));
  client.on("reset", (e) => resets.push(e));
  client.on("gap", (e) => gaps.push(e));
  return {
    client,
    messages,
    closes,
    resets,
    gaps,
    async [Symbol.asyncDispose]() {
      client.close();
      await client.closed;
    },
  };
}

/** Holes and duplicates in a run of seqs that should be consecutive. */
function holesAndDuplicates(seqs: readonly number[]) {
  let holes = 0;
  let duplicates = 0;
  for (let i = 1; i < seqs.length; i++) {
    const step = seqs[i]! - seqs[i - 1]!;
    if (step <= 0) duplicates++;
    else holes += step - 1;
  }
  return { holes, duplicates };
}

const start = (o: Partial<ServerOptions>): RunningServer => startTestServer(o);

Deno.test("FanoutClient: three server-side cuts mid-stream (4002) and every message arrives once, in order: no hole, no duplicate", async () => {
  await using server = start({ rate: 200, history: 1000 });
  await using rec = recorded(server.url);
  rec.client.start();
  const cuts = 3;
  for (let cut = 1; cut <= cuts; cut++) {
    await waitFor(
      `messages before cut ${cut}`,
      () => rec.messages.length >= cut * 100,
    );
    for (const session of server.hub.sessions) {
      server.hub.close(session, "ping_timeout", "test: cut mid-stream");
    }
  }
  const target = rec.messages.length + 100;
  await waitFor(
    "messages after the last cut",
    () => rec.messages.length >= target,
  );
  const seqs = rec.messages.map((m) => m.seq);
  const { holes, duplicates } = holesAndDuplicates(seqs);
  console.log(
    `sdk resume: ${cuts} cuts (4002), ${rec.client.stats.connects} connections, ` +
      `${seqs.length} messages ${seqs[0]}..${seqs.at(-1)}, holes ${holes}, ` +
      `duplicates ${duplicates}, duplicates skipped ${rec.client.stats.duplicates}`,
  );
  assert.equal(holes, 0, "no hole");
  assert.equal(duplicates, 0, "no duplicate");
  assert.equal(rec.client.stats.connects, cuts + 1);
  assert.deepEqual(rec.gaps, []);
  assert.deepEqual(
    rec.closes.map((c) => [c.code, c.key, c.willReconnect]),
    Array(cuts).fill([4002, "ping_timeout", true]),
  );
  const epoch = server.broker.position("default").epoch;
  assert.ok(rec.messages.every((m) => m.epoch === epoch));
  assert.deepEqual(rec.client.position?.epoch, epoch);
});

Deno.test("FanoutClient: a server restarted on the same port gives reset with the new epoch, and the new stream continues after its last_seq", async () => {
  const first = start({ rate: 200, history: 1000 });
  const port = first.port;
  await using rec = recorded(first.url);
  rec.client.start();
  await waitFor(
    "messages from the first server",
    () => rec.messages.length >= 50,
  );
  const oldEpoch = first.broker.position("default").epoch;
  await first.stop();
  await using second = start({ rate: 200, history: 1000, port });
  await waitFor("the reset", () => rec.resets.length > 0, 15_000);
  const newEpoch = second.broker.position("default").epoch;
  assert.notEqual(newEpoch, oldEpoch);
  const reset = rec.resets[0]!;
  assert.equal(reset.epoch, newEpoch);
  await waitFor(
    "messages of the new stream",
    () => rec.messages.filter((m) => m.epoch === newEpoch).length >= 30,
  );
  const fresh = rec.messages.filter((m) => m.epoch === newEpoch);
  assert.equal(fresh[0]!.seq, reset.last_seq + 1);
  assert.deepEqual(holesAndDuplicates(fresh.map((m) => m.seq)), {
    holes: 0,
    duplicates: 0,
  });
  assert.equal(rec.closes[0]?.code, 1001, "the shutdown close: reconnect");
  assert.equal(rec.closes[0]?.willReconnect, true);
  assert.deepEqual(rec.client.position?.epoch, newEpoch);
});

Deno.test("FanoutClient: a resume older than the history gives a gap event naming what was lost, then the stream goes on", async () => {
  await using server = start({ rate: 200, history: 5 });
  // Away for ~0.5 s at 200 msg/s: far more than 5 messages are missed.
  await using rec = recorded(server.url, {
    backoff: { initialMs: 500, jitter: 0 },
  });
  rec.client.start();
  await waitFor("messages", () => rec.messages.length >= 20);
  for (const session of server.hub.sessions) {
    server.hub.close(session, "slow_drops");
  }
  await waitFor("the gap", () => rec.gaps.length > 0);
  const gap = rec.gaps[0]!;
  assert.equal(gap.missed, gap.to - gap.from + 1);
  await waitFor(
    "messages after the gap",
    () => rec.messages.at(-1)!.seq > gap.to + 10,
  );
  const after = rec.messages.filter((m) => m.seq >= gap.from);
  assert.equal(after[0]!.seq, gap.to + 1, "resumes right after the gap");
  assert.equal(rec.client.stats.missed, gap.missed);
});

Deno.test("FanoutClient: a terminal close (4101) stops it for good while a client cut with 4002 comes back", async () => {
  await using server = start({ rate: 100 });
  let connects = 0;
  server.hub.on((e: HubEvent) => {
    if (e.type === "connect") connects++;
  });
  // The two are told apart at the server by ?batch=1.
  await using terminal = recorded(server.url, { batch: true });
  await using resumer = recorded(server.url);
  terminal.client.start();
  resumer.client.start();
  await waitFor(
    "both subscribed",
    () => terminal.messages.length > 0 && resumer.messages.length > 0,
  );
  for (const session of server.hub.sessions) {
    if (session.batch) server.hub.close(session, "flood");
    else server.hub.close(session, "ping_timeout");
  }
  const ended = await terminal.client.closed;
  assert.deepEqual(
    [ended.code, ended.key, ended.reconnect, ended.willReconnect],
    [4101, "flood", false, false],
  );
  assert.equal(terminal.client.state, "closed");
  // Same backoff for both: by the time the resumer is back and has had ten
  // more messages (100 ms), the terminal client would have been back too.
  await waitFor("the resumer's reconnect", () => connects === 3);
  const seen = resumer.messages.length;
  await waitFor("more messages", () => resumer.messages.length >= seen + 10);
  assert.equal(connects, 3, "the terminal client never came back");
  assert.equal(
    [...server.hub.sessions].filter((s) => s.batch).length,
    0,
  );
  assert.equal(terminal.client.stats.connects, 1);
  assert.equal(terminal.closes.length, 1);
});

Deno.test("FanoutClient: ?batch=1 arrays arrive as one message event each, in order, and ACKs reach the server", async () => {
  await using server = start({ rate: 400, batchMs: 50 });
  await using rec = recorded(server.url, { batch: true, ack: true });
  rec.client.start();
  await waitFor("messages", () => rec.messages.length >= 200);
  const { frames, messages } = rec.client.stats;
  assert.ok(frames < messages / 2, `${messages} messages in ${frames} frames`);
  assert.deepEqual(holesAndDuplicates(rec.messages.map((m) => m.seq)), {
    holes: 0,
    duplicates: 0,
  });
  const [session] = server.hub.sessions;
  assert.equal(session!.batch, true);
  await waitFor("ACKs at the server", () => session!.stats.acks > 0);
  assert.ok(
    session!.stats.acks <= frames,
    "one ACK per frame, not per message",
  );
});

Deno.test("FanoutClient: close() before the first connection opens ends it with 1000 and no reconnect", async () => {
  await using server = start({ rate: 10 });
  const client = new FanoutClient(server.url);
  client.start();
  client.close("changed my mind");
  const end = await client.closed;
  assert.deepEqual([end.code, end.willReconnect], [1000, false]);
  assert.equal(client.state, "closed");
});
