/**
 * How a connection ended, as the server records it, over real sockets on
 * 127.0.0.1: protocol violations and vanished clients are named (not
 * `client_closed` code 0), a client that stops reading gets the documented
 * 4002, and a close reason cannot forge a line in the human log.
 */
import assert from "node:assert/strict";
import type { HubEvent, SessionEnd } from "../server/mod.ts";
import { attributeClose } from "../server/core/session_end.ts";
import { ManualClient, startTestServer, waitFor } from "./_helpers.ts";

/** A WebSocket client on a raw TCP socket, to send what a library would not. */
class RawClient implements Disposable {
  readonly conn: Deno.Conn;
  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Connects and completes the upgrade. */
  static async open(port: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    if (!head.startsWith("HTTP/1.1 101")) throw new Error(head);
    return new RawClient(conn);
  }

  /** Sends one masked frame with the first byte `b0` (FIN, RSV, opcode). */
  async frame(b0: number, payload: Uint8Array): Promise<void> {
    const mask = [1, 2, 3, 4];
    const masked = payload.map((b, i) => b ^ mask[i % 4]!);
    await this.conn.write(
      new Uint8Array([b0, 0x80 | payload.length, ...mask, ...masked]),
    );
  }

  /** Reads and discards everything the server sends (never answering pings). */
  async drain(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      while ((await this.conn.read(buf)) !== null) { /* discard */ }
    } catch { /* reset */ }
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

function endsOf(events: HubEvent[]): SessionEnd[] {
  return events.flatMap((e) => e.type === "disconnect" ? [e.end] : []);
}

Deno.test("attributeClose() names protocol violations, lost connections, Deno's ping timer and the peer's own close", () => {
  assert.deepEqual(attributeClose(1000, "bye", ""), {
    reason: "client_closed",
    detail: "bye",
    code: 1000,
  });
  assert.equal(
    attributeClose(0, "", "Invalid UTF-8").reason,
    "ws_protocol_error",
  );
  assert.equal(attributeClose(0, "", "Invalid UTF-8").code, 1002);
  assert.equal(
    attributeClose(0, "", "Reserved bits are not zero").reason,
    "ws_protocol_error",
  );
  assert.equal(
    attributeClose(0, "", "Unexpected EOF").reason,
    "connection_lost",
  );
  assert.equal(attributeClose(0, "", "Unexpected EOF").code, 1006);
  assert.equal(attributeClose(0, "", "").reason, "connection_lost");
  assert.equal(
    attributeClose(0, "", "Frame too large").reason,
    "message_too_big",
  );
  assert.equal(
    attributeClose(1001, "No response from ping frame.", "").reason,
    "ping_timeout",
  );
});

Deno.test("the server names how clients ended: invalid UTF-8, reserved bits, a vanished client; and escapes a close reason in the human log", async () => {
  const lines: string[] = [];
  await using server = startTestServer({ rate: 20 }, {
    log: (_record, human) => void lines.push(human),
  });
  const events: HubEvent[] = [];
  server.hub.on((e) => events.push(e));
  const port = server.port;
  {
    using utf8 = await RawClient.open(port);
    await utf8.frame(0x81, new Uint8Array([0xff, 0xfe]));
    await utf8.drain();
  }
  {
    using rsv = await RawClient.open(port);
    await rsv.frame(0xc1, new Uint8Array([0x41]));
    await rsv.drain();
  }
  {
    using _gone = await RawClient.open(port);
    await waitFor("its session", () => server.hub.size === 1);
    // The process "dies": the socket closes without a close frame.
  }
  {
    using forger = await RawClient.open(port);
    const reason = new TextEncoder().encode("bye\n[disconnect] c9 forged");
    await forger.frame(0x88, new Uint8Array([0x03, 0xe8, ...reason]));
    await forger.drain();
  }
  await waitFor("four disconnects", () => endsOf(events).length === 4);
  const ends = endsOf(events);
  assert.deepEqual(ends.map((e) => [e.reason, e.code]), [
    ["ws_protocol_error", 1002],
    ["ws_protocol_error", 1002],
    ["connection_lost", 1006],
    ["client_closed", 1000],
  ]);
  assert.match(ends[0]!.detail, /Invalid UTF-8/);
  assert.match(ends[1]!.detail, /Reserved bits/);
  const disconnects = lines.filter((l) => l.startsWith("[disconnect]"));
  assert.equal(disconnects.length, 4);
  assert.ok(
    disconnects.every((l) => !l.includes("\n")),
    "one record, one line",
  );
  assert.match(disconnects[3]!, /bye\\n\[disconnect\] c9 forged/);
  const metrics = await (await fetch(`${server.httpUrl}metrics`)).text();
  assert.match(
    metrics,
    /^fanout_disconnects_total\{reason="ws_protocol_error",code="1002"\} 2$/m,
  );
  assert.match(
    metrics,
    /^fanout_disconnects_total\{reason="connection_lost",code="1006"\} 1$/m,
  );
});

Deno.test("a client that stops reading is closed by the stall check with 4002 before Deno's ping timer (1001) fires", async () => {
  await using server = startTestServer({
    rate: 100,
    payloadBytes: 64 * 1024,
    pingInterval: 1,
    pingTimeout: 1,
    // Keep the slow-client policy out of the way: only the stall check.
    dropLimit: 1_000_000_000,
    fullTimeout: 3600,
    maxLag: 0,
  });
  const events: HubEvent[] = [];
  server.hub.on((e) => events.push(e));
  await using stalled = new ManualClient(server.url);
  await stalled.open(); // and never reads
  const [end] = await waitFor(
    "the stall disconnect",
    () => endsOf(events).length > 0 && endsOf(events),
    15_000,
  );
  assert.equal(end!.reason, "ping_timeout");
  assert.equal(end!.code, 4002, "the documented code, not Deno's 1001");
});

Deno.test("a client that reads but never answers pings is closed by Deno's ping timer and recorded as ping_timeout", async () => {
  await using server = startTestServer({
    rate: 20,
    pingInterval: 0.5,
    pingTimeout: 0.5,
  });
  const events: HubEvent[] = [];
  server.hub.on((e) => events.push(e));
  using raw = await RawClient.open(server.port);
  const drained = raw.drain(); // reads, never sends a pong
  const [end] = await waitFor(
    "the ping-timeout disconnect",
    () => endsOf(events).length > 0 && endsOf(events),
    15_000,
  );
  assert.equal(end!.reason, "ping_timeout");
  assert.match(end!.detail, /no pong/);
  raw.conn.close();
  await drained;
});
