/**
 * Reference: the least a Deno server with isolation does — a bounded
 * drop-oldest queue per client (100 messages), one `send()` per frame while
 * the client's `bufferedAmount` is under 64 KiB, one shared timer that
 * drains blocked clients every 2 ms. No policy, no statistics, no cuts.
 * fanout's queue mode costs what this costs plus its own.
 *
 *   deno run -A bench/peers/deno_queue.ts --port 0 --rate 100 --payload-bytes 64
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
const MAXSIZE = 100;

interface Client {
  readonly socket: WebSocket;
  readonly queue: string[];
  head: number;
}

const clients = new Set<Client>();
const blocked = new Set<Client>();
let timer: ReturnType<typeof setTimeout> | undefined;

/** Sends what fits; returns true when the client is still blocked. */
function flush(c: Client): boolean {
  while (c.head < c.queue.length) {
    if (c.socket.bufferedAmount >= HIGH_WATER_BYTES) return true;
    c.socket.send(c.queue[c.head++]!);
  }
  c.queue.length = 0;
  c.head = 0;
  return false;
}

function poll(): void {
  timer = undefined;
  for (const c of blocked) if (!flush(c)) blocked.delete(c);
  if (blocked.size > 0) timer = setTimeout(poll, 2);
}

const server = Deno.serve({
  hostname: String(args.host),
  port: Number(args.port),
  onListen() {},
}, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("upgrade to WebSocket\n", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
  const client: Client = { socket, queue: [], head: 0 };
  socket.onopen = () => clients.add(client);
  socket.onclose = () => {
    clients.delete(client);
    blocked.delete(client);
  };
  socket.onerror = () => {};
  return response;
});

const publisher = startPublisher(
  { rate: Number(args.rate), payloadBytes: Number(args["payload-bytes"]) },
  (text: string) => {
    for (const c of clients) {
      if (
        c.head === c.queue.length && c.socket.bufferedAmount < HIGH_WATER_BYTES
      ) {
        c.socket.send(text);
        continue;
      }
      c.queue.push(text);
      if (c.queue.length - c.head > MAXSIZE) c.head++; // drop the oldest
      if (c.head > MAXSIZE) {
        c.queue.splice(0, c.head);
        c.head = 0;
      }
      blocked.add(c);
    }
    if (blocked.size > 0) timer ??= setTimeout(poll, 2);
  },
);
console.log(
  JSON.stringify({
    type: "listening",
    port: server.addr.port,
    peer: "deno-queue",
  }),
);
Deno.addSignalListener("SIGTERM", () => {
  publisher.stop();
  if (timer !== undefined) clearTimeout(timer);
  console.log(
    JSON.stringify({
      type: "final",
      published_total: publisher.stats.published,
    }),
  );
  Deno.exit(0);
});
