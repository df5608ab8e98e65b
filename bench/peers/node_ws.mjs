// Reference peer: the broadcast loop most Node users write with `ws`
// (its README's "broadcast to all clients"), plus the one guard any real
// deployment adds: skip a client whose socket already buffers 64 KiB, so a
// stalled client costs bounded memory. Each message is encoded once into a
// Buffer that every send() shares.
//
//   node bench/peers/node_ws.mjs --port 0 --rate 100 --payload-bytes 64
//
// Prints one JSON line {"type":"listening","port":N}. Stops on SIGTERM.
import { Buffer } from "node:buffer";
import http from "node:http";
import process from "node:process";
import { WebSocket, WebSocketServer } from "ws";
import { acceptAck, parsePeerArgs, startPublisher } from "./_publisher.mjs";

const args = parsePeerArgs({
  host: "127.0.0.1",
  port: 0,
  rate: 100,
  "payload-bytes": 64,
});
/** Same gate as fanout's QUEUE_HIGH_WATER_BYTES: above it, the message is skipped. */
const HIGH_WATER_BYTES = 64 * 1024;
let acks = 0;
let bad = 0;
let skipped = 0;

const server = http.createServer((_req, res) => {
  res.writeHead(426, { upgrade: "websocket" }).end("upgrade to WebSocket\n");
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    if (acceptAck(String(data))) acks++;
    else bad++;
  });
  ws.on("error", () => {});
});

server.listen(args.port, args.host, () => {
  const publisher = startPublisher(
    { rate: args.rate, payloadBytes: args["payload-bytes"] },
    (text) => {
      const frame = Buffer.from(text);
      for (const client of wss.clients) {
        if (client.readyState !== WebSocket.OPEN) continue;
        if (client.bufferedAmount >= HIGH_WATER_BYTES) skipped++;
        else client.send(frame, { binary: false });
      }
    },
  );
  console.log(
    JSON.stringify({
      type: "listening",
      port: server.address().port,
      peer: "node-ws",
    }),
  );
  process.on("SIGTERM", () => {
    publisher.stop();
    console.log(JSON.stringify({
      type: "final",
      published_total: publisher.stats.published,
      acks,
      bad,
      skipped,
    }));
    process.exit(0);
  });
});
