/**
 * One client message over the runtime's string limit (a 513 MiB text
 * message in 1 MiB fragments, streamed from a loop, never held whole by the
 * test) costs its sender the connection (1009), not the server its process:
 * another client keeps receiving. The run moves 513 MiB over loopback and
 * the server's runtime buffers it whole (about 10 s and 1.1 GiB here).
 */
import assert from "node:assert/strict";
import type { HubEvent, SessionEnd } from "../server/mod.ts";
import { startTestServer, waitFor } from "./_helpers.ts";

const MIB = 1 << 20;

/** Writes all of `bytes`. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** One client frame of `size` 'a' bytes, masked with the zero key. */
function frameOf(b0: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(14 + payload.length);
  frame[0] = b0;
  frame[1] = 0x80 | 127;
  new DataView(frame.buffer).setBigUint64(2, BigInt(payload.length));
  // Bytes 10..13: the mask key 0, so the payload goes as it is.
  frame.set(payload, 14);
  return frame;
}

function endsOf(events: HubEvent[]): SessionEnd[] {
  return events.flatMap((e) => e.type === "disconnect" ? [e.end] : []);
}

Deno.test("a fragmented text message over 512 MiB closes its sender with 1009 and the server keeps serving", async () => {
  await using server = startTestServer({ rate: 50 });
  const events: HubEvent[] = [];
  server.hub.on((e) => events.push(e));

  const honest = new WebSocket(server.url);
  let received = 0;
  honest.onmessage = () => received++;
  const honestClosed = new Promise((r) => (honest.onclose = r));
  await new Promise((r) => (honest.onopen = r));

  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await writeAll(
    conn,
    new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  // Read everything the server sends (its messages, then its close frame),
  // keeping the last bytes to find the close frame.
  let tail = new Uint8Array(0);
  const reading = (async () => {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        const joined = new Uint8Array(tail.length + n);
        joined.set(tail);
        joined.set(buf.subarray(0, n), tail.length);
        tail = joined.slice(-256);
      }
    } catch { /* reset */ }
  })();
  await waitFor("both sessions", () => server.hub.size === 2);

  const payload = new Uint8Array(MIB).fill(0x61);
  const frames = 513;
  try {
    for (let i = 0; i < frames; i++) {
      const fin = i === frames - 1 ? 0x80 : 0;
      await writeAll(conn, frameOf(fin | (i === 0 ? 0x1 : 0x0), payload));
    }
  } catch { /* the server may cut us before the last frame */ }

  const [end] = await waitFor(
    "the sender's disconnect",
    () => endsOf(events).length > 0 && endsOf(events),
    60_000,
  );
  assert.equal(end!.reason, "message_too_big");
  assert.equal(end!.code, 1009);
  const after = received;
  await waitFor(
    "more messages for the other client",
    () => received > after + 5,
  );
  assert.equal(server.hub.size, 1, "the other client is still connected");

  // The close frame 0x88 with code 1009 (0x03f1) reaches the sender: wait
  // for it (on a busy machine it may still be on its way), then hang up.
  const hex = () =>
    Array.from(tail, (b) => b.toString(16).padStart(2, "0")).join("");
  await waitFor(
    "the close frame with 1009 at the sender",
    () => /88..03f1/.test(hex()),
    30_000,
  );
  conn.close();
  await reading;
  honest.close();
  await honestClosed;
});
