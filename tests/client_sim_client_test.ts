import assert from "node:assert/strict";
import { runGcProbe } from "./_cli.ts";
import { SimClient } from "../client/sim_client.ts";
import { waitFor, WsFixture } from "./_ws_fixture.ts";

Deno.test("SimClient records latency and ACKs every frame when the server publishes", async () => {
  const started = Date.now();
  await using fixture = WsFixture.start({ rate: 100 });
  await using client = new SimClient(fixture.url, { id: "fast-0" });
  client.run();
  await waitFor(() => client.snapshot().acksSent >= 20, "20 ACKs sent");
  const server = fixture.sockets[0];
  assert.ok(server);
  await waitFor(() => server.acks.length >= 20, "20 ACKs received");
  const snap = client.snapshot();
  assert.equal(snap.id, "fast-0");
  assert.equal(snap.connects, 1);
  assert.equal(snap.connected, true);
  assert.equal(snap.drops, 0);
  assert.equal(snap.badFrames, 0);
  assert.ok(snap.latency.count >= 20);
  // No latency exceeds the time this test has run (every frame was sent
  // after it started): a relation, not an absolute bound. +5 % for the
  // histogram's bucket width.
  const ranMs = Date.now() - started;
  assert.ok(
    snap.latency.min >= 0 && snap.latency.max <= ranMs * 1.05 + 1,
    `max ${snap.latency.max} ms in a ${ranMs} ms run`,
  );
  assert.ok(snap.firstMessageAt !== null && snap.lastMessageAt !== null);
  assert.equal(server.badFrames, 0);
  // ACKs arrive in order, one per seq, each echoing a plausible ts_send.
  const seqs = server.acks.map((a) => a.seq);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1);
  const nowSec = Date.now() / 1000;
  for (const ack of server.acks) {
    assert.ok(ack.ack_ts > nowSec - 60 && ack.ack_ts <= nowSec + 1);
  }
});

Deno.test("SimClient counts seq gaps as drops when the server skips messages", async () => {
  await using fixture = WsFixture.start({ rate: 100 });
  await using client = new SimClient(fixture.url);
  client.run();
  await waitFor(() => client.snapshot().messages >= 5, "5 messages");
  fixture.skip(7);
  await waitFor(() => client.snapshot().drops > 0, "a drop");
  const before = client.snapshot().messages;
  await waitFor(() => client.snapshot().messages >= before + 5, "5 more");
  assert.equal(client.snapshot().drops, 7);
  // A restarted numbering is a resync, not a drop.
  fixture.restartSeq();
  const seqNow = fixture.seq;
  await waitFor(() => fixture.seq >= seqNow + 5, "5 more published");
  const after = client.snapshot().messages;
  await waitFor(() => client.snapshot().messages >= after + 5, "5 more read");
  assert.equal(client.snapshot().drops, 7);
});

Deno.test("SimClient records the code and reason and reconnects when the server closes it with 4000", async () => {
  await using fixture = WsFixture.start({ rate: 100 });
  await using client = new SimClient(fixture.url);
  client.run();
  await waitFor(() => client.snapshot().messages >= 3, "3 messages");
  fixture.closeClient(0, 4000, "slow client: 51 drops in 10 s");
  await waitFor(() => client.snapshot().connects >= 2, "a reconnect");
  await waitFor(() => fixture.openCount === 1, "the new socket");
  const snap = client.snapshot();
  assert.equal(snap.closes.length, 1);
  assert.equal(snap.closes[0]?.code, 4000);
  assert.equal(snap.closes[0]?.reason, "slow client: 51 drops in 10 s");
  assert.ok(snap.closes[0]!.atMs >= snap.startedAt);
  assert.equal(snap.errors, 0);
  await waitFor(
    () => (fixture.sockets[1]?.acks.length ?? 0) > 0,
    "ACKs on the new connection",
  );
});

Deno.test("SimClient stops by itself after a terminal close (4101), never reconnecting", async () => {
  await using fixture = WsFixture.start({ rate: 100 });
  await using client = new SimClient(fixture.url);
  const ran = client.run();
  await waitFor(() => client.snapshot().messages >= 3, "3 messages");
  fixture.closeClient(0, 4101, "flood: client frames over --max-inbound-rate");
  // run() resolves without stop(): the client gave up on its own.
  let ended = false;
  ran.then(() => ended = true);
  await waitFor(() => ended, "the client to stop by itself");
  const snap = client.snapshot();
  assert.equal(snap.connects, 1);
  assert.deepEqual(snap.closes.map((c) => c.code), [4101]);
  assert.equal(fixture.sockets.length, 1, "no second connection");
});

Deno.test("SimClient skips malformed frames without crashing when the server sends junk", async () => {
  await using fixture = WsFixture.start({ rate: 100 });
  await using client = new SimClient(fixture.url);
  client.run();
  await waitFor(() => client.snapshot().messages >= 2, "2 messages");
  fixture.broadcastRaw("not json");
  fixture.broadcastRaw('{"seq":"x","ts_send":1}');
  fixture.broadcastRaw("[1,2]");
  fixture.broadcastRaw(new Uint8Array([1, 2, 3]));
  await waitFor(() => client.snapshot().badFrames === 4, "4 bad frames");
  const before = client.snapshot().messages;
  await waitFor(() => client.snapshot().messages > before + 2, "more data");
  assert.equal(client.snapshot().connects, 1);
  assert.equal(client.snapshot().drops, 0);
});

Deno.test("SimClient counts errors and retries with backoff when nothing listens", async () => {
  // Take a free port, then close it so connecting is refused.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await using client = new SimClient(`ws://127.0.0.1:${port}/`);
  client.run();
  await client.firstAttempt;
  await waitFor(() => client.snapshot().errors >= 2, "a retry");
  const snap = client.snapshot();
  assert.equal(snap.connects, 0);
  assert.equal(snap.connected, false);
  assert.equal(snap.messages, 0);
});

Deno.test("SimClient does not keep the frames it has read alive (clientsim ran out of memory in long runs)", async () => {
  const { messages, heapUsed } = await runGcProbe<
    { messages: number; heapUsed: number }
  >("_heap_probe.ts", "2000");
  // 2,000 frames of 64 KiB were read: 128 MiB if they were all kept.
  assert.ok(messages >= 2000);
  assert.ok(
    heapUsed < 32 * 1024 * 1024,
    `heap after GC: ${(heapUsed / 2 ** 20).toFixed(1)} MiB`,
  );
  console.log(
    `  heap after GC: ${
      (heapUsed / 2 ** 20).toFixed(1)
    } MiB after 2,000 frames of 64 KiB`,
  );
});
