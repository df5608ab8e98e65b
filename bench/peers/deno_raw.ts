/**
 * Experiment, not a product: WebSocket framing done by hand over
 * `Deno.listen` TCP, to measure what bypassing Deno's WebSocket API would
 * buy. Each message is framed once (header + UTF-8 bytes) and the same bytes
 * go to every client; while a client's previous write is in flight, new
 * frames wait in a list and go out together in one write (several ordinary
 * WebSocket frames per TCP write: what Bun's cork does). Frames on the wire
 * are exactly fanout's. A client more than 64 KiB behind is skipped.
 *
 *   deno run -A bench/peers/deno_raw.ts --port 0 --rate 100 --payload-bytes 64
 *
 * @module
 */
import { parsePeerArgs, startPublisher } from "./_publisher.mjs";

const args = parsePeerArgs({
  host: "127.0.0.1",
  port: 0,
  rate: 100,
  "payload-bytes": 64,
});
const HIGH_WATER_BYTES = 64 * 1024;
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();

class Client {
  readonly conn: Deno.TcpConn;
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  writing = false;
  closed = false;
  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }
  send(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.writing) {
      if (this.pendingBytes >= HIGH_WATER_BYTES) return; // skipped
      this.pending.push(frame);
      this.pendingBytes += frame.length;
      return;
    }
    this.#write(frame);
  }
  async #write(first: Uint8Array): Promise<void> {
    this.writing = true;
    let buf: Uint8Array | undefined = first;
    try {
      while (buf) {
        let off = 0;
        while (off < buf.length) {
          off += await this.conn.write(buf.subarray(off));
        }
        if (this.pending.length === 0) buf = undefined;
        else if (this.pending.length === 1) buf = this.pending[0];
        else {
          buf = new Uint8Array(this.pendingBytes);
          let at = 0;
          for (const p of this.pending) {
            buf.set(p, at);
            at += p.length;
          }
        }
        this.pending = [];
        this.pendingBytes = 0;
      }
    } catch {
      this.close();
    }
    this.writing = false;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clients.delete(this);
    try {
      this.conn.close();
    } catch { /* gone */ }
  }
}

const clients = new Set<Client>();

/** Frames a text message once: header + UTF-8 payload, unmasked. */
function frameText(text: string): Uint8Array {
  const body = encoder.encode(text);
  const n = body.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(head + n);
  out[0] = 0x81;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  out.set(body, head);
  return out;
}

async function accept(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(4096);
  let got = 0;
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) return conn.close();
    got += n;
    text = new TextDecoder().decode(buf.subarray(0, got));
  }
  const key = /sec-websocket-key:\s*(\S+)/i.exec(text)?.[1];
  if (!key) return conn.close();
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
  await conn.write(encoder.encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  ));
  const client = new Client(conn);
  clients.add(client);
  // Read and discard client frames (ACKs); a close frame or EOF ends it.
  try {
    const rbuf = new Uint8Array(16 * 1024);
    while (true) {
      const n = await conn.read(rbuf);
      if (n === null) break;
      if ((rbuf[0]! & 0x0f) === 8) break;
    }
  } catch { /* reset */ }
  client.close();
}

const listener = Deno.listen({
  hostname: String(args.host),
  port: Number(args.port),
});
(async () => {
  for await (const conn of listener) accept(conn).catch(() => {});
})();

const publisher = startPublisher(
  { rate: Number(args.rate), payloadBytes: Number(args["payload-bytes"]) },
  (text: string) => {
    const frame = frameText(text);
    for (const c of clients) c.send(frame);
  },
);
console.log(JSON.stringify({
  type: "listening",
  port: (listener.addr as Deno.NetAddr).port,
  peer: "deno-raw",
}));
Deno.addSignalListener("SIGTERM", () => {
  publisher.stop();
  console.log(JSON.stringify({
    type: "final",
    published_total: publisher.stats.published,
  }));
  Deno.exit(0);
});
