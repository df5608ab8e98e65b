// The SDK bundle under Node (>= 20; Node 20 needs --experimental-websocket):
// subscribe, print one JSON line per event that matters to the test, and
// exit once COUNT messages have arrived.
// Usage: node --experimental-websocket tests/_node_subscriber.mjs BUNDLE_URL WS_URL COUNT [TOKEN]
const [bundleUrl, url, countText, token] = process.argv.slice(2);
const { FanoutClient } = await import(bundleUrl);
const count = Number(countText);
const print = (record) => console.log(JSON.stringify(record));
const client = new FanoutClient(url, {
  backoff: { initialMs: 20, maxMs: 200 },
  ...(token ? { token } : {}),
});
const seqs = [];
client.on("open", (e) => print({ event: "open", attempt: e.attempt }));
client.on(
  "close",
  (e) =>
    print({
      event: "close",
      code: e.code,
      willReconnect: e.willReconnect,
      ...(e.reason ? { reason: e.reason } : {}),
      ...(e.status ? { status: e.status } : {}),
    }),
);
client.on("message", (m) => {
  seqs.push(m.seq);
  if (seqs.length % 10 === 0) {
    print({ event: "progress", messages: seqs.length });
  }
  if (seqs.length !== count) return;
  let holes = 0;
  let duplicates = 0;
  for (let i = 1; i < seqs.length; i++) {
    const step = seqs[i] - seqs[i - 1];
    if (step <= 0) duplicates++;
    else holes += step - 1;
  }
  print({
    event: "done",
    node: process.version,
    messages: seqs.length,
    holes,
    duplicates,
    connects: client.stats.connects,
  });
  client.close();
});
client.start();
await client.closed;
