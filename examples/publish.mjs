// A publisher: POST /publish, one JSON tick at a time (or a whole NDJSON
// batch with --batch), and print the position the server gave each.
// The server must run with --source http --publish-token TOKEN.
//
//   deno run --allow-net examples/publish.mjs --token TOKEN --channel prices --count 5
//   node examples/publish.mjs --url http://localhost:8765 --token TOKEN
//
// Arguments: --url URL --token TOKEN [--channel NAME] [--count N] [--interval-ms MS] [--batch]
const args = globalThis.Deno?.args ?? globalThis.process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};
const base = flag("url", "http://localhost:8765");
const token = flag("token");
const channel = flag("channel", "default");
const count = Number(flag("count", "10"));
const intervalMs = Number(flag("interval-ms", "200"));
const exit = globalThis.Deno?.exit ?? globalThis.process.exit;
if (!token) {
  console.error(
    "publish.mjs: --token TOKEN is required (the server's --publish-token)",
  );
  exit(2);
}

const endpoint = new URL(
  `/publish?channel=${encodeURIComponent(channel)}`,
  base,
);
const tick = (n) => ({
  n,
  sym: "ACME",
  px: +(100 + Math.sin(n / 3) * 5).toFixed(2),
  at: new Date().toISOString(),
});

async function post(body, type) {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body,
  });
  const answer = await res.json();
  if (!res.ok) {
    // Every refusal is JSON {"error": …} naming the problem.
    console.error(`publish.mjs: ${res.status} ${answer.error}`);
    exit(1);
  }
  return answer;
}

if (flag("batch") !== undefined || args.includes("--batch")) {
  const lines = Array.from(
    { length: count },
    (_, i) => JSON.stringify(tick(i + 1)),
  ).join("\n");
  const a = await post(lines, "application/x-ndjson");
  console.log(
    `published ${a.count} messages to ${a.channel}: seq ${a.first}..${a.last} (epoch ${a.epoch})`,
  );
} else {
  for (let n = 1; n <= count; n++) {
    const a = await post(JSON.stringify(tick(n)), "application/json");
    console.log(`published to ${a.channel}: seq ${a.seq} (epoch ${a.epoch})`);
    if (n < count) await new Promise((r) => setTimeout(r, intervalMs));
  }
}
