// Reference peer: Bun's built-in WebSocket pub/sub (uWebSockets underneath).
// One topic; every message is published once with server.publish(), which
// fans it out natively. Run with the `bun` binary from npm (bench/peers).
//
//   bun bench/peers/bun_pubsub.mjs --port 0 --rate 100 --payload-bytes 64
//
// Prints one JSON line {"type":"listening","port":N}. Stops on SIGTERM.
import process from "node:process";
import { acceptAck, parsePeerArgs, startPublisher } from "./_publisher.mjs";

const args = parsePeerArgs({
  host: "127.0.0.1",
  port: 0,
  rate: 100,
  "payload-bytes": 64,
});
const TOPIC = "all";
let acks = 0;
let bad = 0;

// deno-lint-ignore no-undef -- Bun global: this file runs under Bun only.
const server = Bun.serve({
  hostname: args.host,
  port: args.port,
  fetch(req, srv) {
    if (srv.upgrade(req)) return;
    return new Response("upgrade to WebSocket\n", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    // Bun's defaults: a socket may buffer up to 16 MiB, then publish() skips it.
    open(ws) {
      ws.subscribe(TOPIC);
    },
    message(_ws, msg) {
      if (acceptAck(String(msg))) acks++;
      else bad++;
    },
  },
});

const publisher = startPublisher(
  { rate: args.rate, payloadBytes: args["payload-bytes"] },
  (text) => server.publish(TOPIC, text),
);
console.log(
  JSON.stringify({ type: "listening", port: server.port, peer: "bun" }),
);

process.on("SIGTERM", () => {
  publisher.stop();
  console.log(JSON.stringify({
    type: "final",
    published_total: publisher.stats.published,
    acks,
    bad,
  }));
  server.stop(true);
  process.exit(0);
});
