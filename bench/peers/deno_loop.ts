/**
 * Reference floor: the least a Deno server can do per delivery through
 * Deno's WebSocket API — one `send(text)` per client per message, skipping a
 * client whose `bufferedAmount` is over 64 KiB. No queue, no policy, no
 * statistics. fanout's cost above this is its own; the cost up to it is
 * Deno's (op call, frame build, one write syscall per frame).
 *
 *   deno run -A bench/peers/deno_loop.ts --port 0 --rate 100 --payload-bytes 64
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
const sockets = new Set<WebSocket>();

const server = Deno.serve({
  hostname: String(args.host),
  port: Number(args.port),
  onListen() {},
}, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("upgrade to WebSocket\n", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
  socket.onopen = () => sockets.add(socket);
  socket.onclose = () => sockets.delete(socket);
  socket.onerror = () => {};
  return response;
});

const publisher = startPublisher(
  { rate: Number(args.rate), payloadBytes: Number(args["payload-bytes"]) },
  (text: string) => {
    for (const s of sockets) {
      if (s.bufferedAmount < HIGH_WATER_BYTES) s.send(text);
    }
  },
);
console.log(
  JSON.stringify({ type: "listening", port: server.addr.port, peer: "deno" }),
);
Deno.addSignalListener("SIGTERM", () => {
  publisher.stop();
  console.log(
    JSON.stringify({
      type: "final",
      published_total: publisher.stats.published,
    }),
  );
  Deno.exit(0);
});
