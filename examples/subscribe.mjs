// A subscriber on the fanout client SDK, for Deno and Node (>= 22; Node 20:
// add --experimental-websocket). It resumes by itself after a cut, and says
// so when it cannot (gap, reset); a refusal (bad token: 4401) stops it with
// the server's reason, a full or draining server (4503) is retried when the
// server says. It never hangs: a server that is down is retried with backoff.
//
//   deno run --allow-net examples/subscribe.mjs ws://localhost:8765/ --channel default --count 10
//   node --experimental-websocket examples/subscribe.mjs ws://localhost:8765/
//
// Arguments: [URL] [--channel NAME] [--token TOKEN] [--count N] (stop after N messages).
import { FanoutClient } from "../sdk/fanout_client.js";

const args = globalThis.Deno?.args ?? globalThis.process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const url =
  args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--")) ??
    "ws://localhost:8765/";
const count = Number(flag("count") ?? Infinity);

const client = new FanoutClient(url, {
  channel: flag("channel") ?? "default",
  ...(flag("token") ? { token: flag("token") } : {}),
});
let received = 0;
client.on("open", (e) => console.log(`connected (attempt ${e.attempt})`));
client.on("message", (m) => {
  received++;
  const body = m.data === undefined
    ? `${m.payload_b64.length} base64 chars`
    : JSON.stringify(m.data);
  console.log(`message ${m.seq} ${m.channel} ${body}`);
  if (received >= count) client.close("got what I came for");
});
client.on(
  "gap",
  (g) => console.log(`gap: ${g.missed} messages could not be replayed`),
);
client.on(
  "reset",
  (r) => console.log(`reset: the stream started over in epoch ${r.epoch}`),
);
client.on(
  "dropped",
  (d) => console.log(`dropped: ${d.count} messages, this client was too slow`),
);
client.on(
  "last_close",
  (l) =>
    console.log(
      `the server had closed the last connection: ${l.code} ${l.reason}`,
    ),
);
client.on(
  "close",
  (e) =>
    console.log(
      `closed ${e.code} ${e.reason || "-"}: ${
        e.willReconnect ? `reconnecting in ${e.retryInMs} ms` : "stopped"
      }`,
    ),
);
client.start();
const end = await client.closed;
console.log(
  `done: ${received} messages, last position ${
    JSON.stringify(client.position)
  }`,
);
// A terminal close from the server is a failure; our own close is not.
if (end.code !== 1000) (globalThis.Deno?.exit ?? globalThis.process.exit)(1);
