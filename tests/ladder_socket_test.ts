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

Deno.test("ladder over a real socket: a stalled batch client goes down every tier, is told so, keeps its connection, and climbs back once it reads", async () => {
  const { lines, logger } = recordingLogger();
  await using server = startTestServer(
    { ...BIG, dropLimit: 1_000_000_000, fullTimeout: 3600, maxLag: 0 },
    logger,
  );
  await using client = new ManualClient(
    `${server.url}?control=1&batch=1`,
  );
  await client.open();
  // Stop reading; wait until the server has moved it down to dropping.
  await waitFor(
    "the stalled client to reach dropping, and drop",
    () =>
      [...server.hub.subscribers()].some((s) =>
        s.tier === "dropping" && s.drops > 0
      ),
    60_000,
  );
  // Read again, eagerly, until it is back at full.
  const tiers: string[] = [];
  let batches = 0;
  let dropped = 0;
  const deadline = performance.now() + 60_000;
  while (!tiers.includes("dropping>conflated")) {
    if (performance.now() > deadline) {
      throw new Error(`never climbed back: ${tiers.join()}`);
    }
    const frame = text(await client.read());
    if (frame.startsWith("[")) batches++;
    const control = parseControl(frame);
    if (control?.type === "tier") tiers.push(`${control.from}>${control.tier}`);
    if (control?.type === "dropped") dropped += control.count;
    if (frame === "" && client.received > 0) break;
  }
  const down = tiers.slice(0, 3);
  assert.deepEqual(down, [
    "full>coalesced",
    "coalesced>conflated",
    "conflated>dropping",
  ]);
  assert.ok(tiers.includes("dropping>conflated"), tiers.join());
  assert.ok(dropped > 0, "dropping announced its drops");
  assert.ok(batches > 0, "what waited left as batch frames");
  assert.ok(
    [...server.hub.subscribers()].length === 1,
    "never cut",
  );
  assert.ok(lines.some((l) => l.type === "tier" && l.tier === "dropping"));
  assert.ok(!lines.some((l) => l.type === "disconnect"));
  const changes = server.hub.tierChanges!;
  assert.ok(changes.coalesced! >= 1 && changes.dropping! >= 1);
});

Deno.test("ladder over a real socket: a client that never reads again is cut (4000) only after it reached dropping", async () => {
  const { lines, logger } = recordingLogger();
  await using server = startTestServer({ ...BIG, dropLimit: 20 }, logger);
  await using client = new ManualClient(`${server.url}?control=1`);
  await client.open();
  await waitFor(
    "the stalled client to be cut",
    () => lines.find((l) => l.type === "disconnect"),
    60_000,
  );
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
