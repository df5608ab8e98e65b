// A subscriber that is slow for a while, then fast, against a server running
// `--policy ladder`: it prints the tiers the server moves it through and the
// lag frames it gets, so you can watch it go down the ladder and back up.
//
//   deno task fanout server --policy ladder --payload-bytes 65536
//   deno run --allow-net examples/ladder_watch.mjs ws://localhost:8765/ --slow-s 10 --for 30
//
// Arguments: [URL] [--work-ms MS] (busy time per message while slow, default
// 50) [--slow-s S] (seconds slow, default 10) [--for S] (seconds in all,
// default 30). The busy wait blocks the event loop, so the socket is really
// not read: the server sees a slow reader, not a fast one that queues events.
import { FanoutClient } from "../sdk/fanout_client.js";

const args = globalThis.Deno?.args ?? globalThis.process.argv.slice(2);
const flag = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? d : Number(args[i + 1]);
};
const url =
  args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--")) ??
    "ws://localhost:8765/";
const workMs = flag("work-ms", 50);
const slowMs = flag("slow-s", 10) * 1000;
const forMs = flag("for", 30) * 1000;

const t0 = performance.now();
const at = () => ((performance.now() - t0) / 1000).toFixed(1).padStart(5);
const client = new FanoutClient(url);
let messages = 0;
client.on("open", () => console.log(`${at()} s connected`));
client.on("message", () => {
  messages++;
  if (performance.now() - t0 < slowMs) {
    const until = performance.now() + workMs;
    while (performance.now() < until) { /* slow on purpose */ }
  }
});
client.on("tier", (t) =>
  console.log(
    `${at()} s tier ${t.from} -> ${t.tier} (${t.reason}, ${t.queued} queued, ${t.lag_ms} ms behind)`,
  ));
client.on("lag", (l) =>
  console.log(
    `${at()} s lag: ${l.tier}, ${l.queued} queued, ${l.lag_ms} ms; lost since last: dropped ${l.dropped}, expired ${l.expired}, superseded ${l.superseded}`,
  ));
client.on("expired", (e) => console.log(`${at()} s expired ${e.count}`));
client.on(
  "close",
  (e) => console.log(`${at()} s closed ${e.code} ${e.reason || "-"}`),
);
client.start();
setTimeout(() => client.close("done"), forMs);
await client.closed;
console.log(
  `done: ${messages} messages, tier ${client.stats.tier}, superseded ${client.stats.superseded}, expired ${client.stats.expired}`,
);
