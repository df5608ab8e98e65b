/**
 * `--policy ladder` over real sockets, with a client that really stops
 * reading (`WebSocketStream`): 64 KB payloads at 100 Hz fill the kernel's
 * ~4 MB of socket buffers in well under a second, so the server feels it.
 * Asserts relations and orders, never times.
 */
import assert from "node:assert/strict";
import { decodeDataFrames, parseControl } from "../lib/protocol.ts";
import type { Logger } from "../server/core/logger.ts";
import { ManualClient, startTestServer, waitFor } from "./_helpers.ts";

const BIG = {
  policy: "ladder" as const,
  rate: 100,
  payloadBytes: 64 * 1024,
  ladderDownMs: 300,
  ladderUpMs: 1500,
  pingInterval: 0,
};

/** A logger that keeps the tier and disconnect lines. */
function recordingLogger() {
  const lines: { type: string; [k: string]: unknown }[] = [];
  const logger: Logger = {
    log(record) {
      if (record.type === "tier" || record.type === "disconnect") {
        lines.push(record);
      }
    },
  };
  return { lines, logger };
}

const text = (v: string | Uint8Array | undefined) =>
  typeof v === "string" ? v : "";

Deno.test("ladder over a real socket: a stalled batch client goes down to conflated, is told each step, keeps its connection under --drop-limit 5, and climbs back once it reads", async () => {
  const { lines, logger } = recordingLogger();
  await using server = startTestServer({ ...BIG, dropLimit: 5 }, logger);
  await using client = new ManualClient(
    `${server.url}?control=1&batch=1`,
  );
  await client.open();
  // Stop reading; wait until conflation has absorbed a good deal.
  const view = () => [...server.hub.subscribers()][0];
  await waitFor(
    "the stalled client to be conflated, superseding",
    () => view()?.tier === "conflated" && lines.length >= 2,
    60_000,
  );
  await waitFor(
    "more published than a kernel buffer holds",
    () => server.source.published > 200,
    60_000,
  );
  assert.equal(view()?.tier, "conflated", "conflation absorbs: no dropping");
  assert.ok(view()!.queued <= 1, "the latest value only");
  // Read again, eagerly, until it has climbed a step.
  const tiers: string[] = [];
  let messages = 0;
  const deadline = performance.now() + 60_000;
  while (!tiers.some((t) => t.startsWith("conflated>"))) {
    if (performance.now() > deadline) {
      throw new Error(`never climbed back: ${tiers.join()}`);
    }
    const frame = text(await client.read());
    if (frame === "") throw new Error(`stream ended: ${tiers.join()}`);
    const control = parseControl(frame);
    if (!control) messages += decodeDataFrames(frame).length;
    if (control?.type === "tier") tiers.push(`${control.from}>${control.tier}`);
  }
  assert.deepEqual(tiers.slice(0, 2), [
    "full>coalesced",
    "coalesced>conflated",
  ]);
  assert.equal(tiers[2], "conflated>coalesced");
  // (Each 87-KB message is a frame of its own: a coalesced frame stops
  // growing at the 64-KiB socket gate.)
  assert.ok(messages > 0, "data flowed again before the climb");
  assert.equal([...server.hub.subscribers()].length, 1, "never cut");
  assert.ok(!lines.some((l) => l.type === "disconnect"));
  const changes = server.hub.tierChanges!;
  assert.ok(changes.coalesced! >= 1 && changes.conflated! >= 1);
});

Deno.test("ladder over a real socket: a client that never reads, of a stream conflation cannot absorb (every message its own key), is cut (4000) only after it reached dropping", async () => {
  const { lines, logger } = recordingLogger();
  await using server = startTestServer(
    { ...BIG, dropLimit: 20, source: "http", publishToken: "pt" },
    logger,
  );
  await using client = new ManualClient(`${server.url}?control=1`);
  await client.open();
  const payloadB64 = "A".repeat(88 * 1024);
  const deadline = performance.now() + 60_000;
  for (let i = 0; !lines.some((l) => l.type === "disconnect"); i++) {
    if (performance.now() > deadline) throw new Error("never cut");
    await server.broker.publish("default", [
      { tsSend: Date.now() / 1000, payloadB64, key: `k${i}` },
    ]);
    // Paces the publisher (about 100 Hz), not a wait for a result.
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 100));
  }
  const tierLines = lines.filter((l) => l.type === "tier").map((l) => l.tier);
  const cut = lines.find((l) => l.type === "disconnect")!;
  assert.equal(cut.code, 4000);
  assert.deepEqual(
    tierLines,
    ["conflated", "dropping"],
    "no coalesced: no batch frames",
  );
  assert.ok(
    lines.findIndex((l) => l.tier === "dropping") <
      lines.findIndex((l) => l.type === "disconnect"),
  );
});

Deno.test("ladder: the seed's own kind of client (plain JSON frames, no control, no batch) sees nothing new", async () => {
  await using server = startTestServer({ policy: "ladder", rate: 200 });
  const got: string[] = [];
  const ws = new WebSocket(server.url);
  const done = Promise.withResolvers<void>();
  ws.onmessage = (e) => {
    got.push(String(e.data));
    if (got.length === 30) done.resolve();
  };
  ws.onerror = () => done.reject(new Error("socket error"));
  await done.promise;
  const closed = new Promise((r) => ws.onclose = r);
  ws.close();
  await closed;
  for (const frame of got) {
    const v = JSON.parse(frame);
    assert.ok(!Array.isArray(v) && v.type === undefined, frame.slice(0, 80));
    assert.equal(typeof v.seq, "number");
    assert.equal(typeof v.ts_send, "number");
    assert.equal(typeof v.payload_b64, "string");
  }
  assert.equal(decodeDataFrames(got.at(-1)!).length, 1);
});

Deno.test("ladder over a real socket: a slow reader that ACKs reads recent values (its window keeps the rest in its queue, conflated), where without the window it reads what the kernel buffered long before", async () => {
  const slow = { ...BIG, rate: 50 };
  await using paced = startTestServer(slow);
  await using unpaced = startTestServer({ ...slow, ladderAckWindow: 0 });
  /** Reads a frame every 150 ms and ACKs it; the age of the newest value in each frame read after the first 5 s, ms. */
  const readSlowly = async (server: typeof paced) => {
    await using client = new ManualClient(`${server.url}?control=1&batch=1`);
    await client.open();
    const ages: number[] = [];
    const started = performance.now();
    while (performance.now() - started < 10_000) {
      const frame = text(await client.read());
      if (frame === "" || parseControl(frame) !== undefined) continue;
      const newest = decodeDataFrames(frame).at(-1)!;
      if (performance.now() - started > 5_000) {
        ages.push(Math.round(Date.now() - newest.ts_send * 1000));
      }
      await client.send(
        JSON.stringify({ ack_ts: newest.ts_send, seq: newest.seq }),
      );
      await new Promise((r) => setTimeout(r, 150));
    }
    const tier = [...server.hub.subscribers()][0]?.tier;
    assert.equal(tier, "conflated", "kept, conflated");
    return ages.sort((a, b) => a - b);
  };
  const [withWindow, without] = await Promise.all([
    readSlowly(paced),
    readSlowly(unpaced),
  ]);
  const median = (xs: number[]) => xs[Math.floor(xs.length / 2)] ?? NaN;
  assert.ok(withWindow.length > 5 && without.length > 5, "frames were read");
  assert.ok(
    median(withWindow) * 2 < median(without),
    `newest value's age, median: ${
      median(withWindow)
    } ms with the ACK window, ${median(without)} ms without`,
  );
  console.log(
    `newest value's age, median: ${
      median(withWindow)
    } ms with the ACK window, ${median(without)} ms without`,
  );
});
