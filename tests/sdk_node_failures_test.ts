/**
 * The SDK bundle under Node 20 (`--experimental-websocket`), whose
 * WebSocket fires no `close` for a connection that never opened: against a
 * server that stops and starts again on its port, the client reports each
 * failed attempt while it is down, retries, and finds it again; a refusal (bad
 * token) ends it with 4401 and the server's reason, and the process exits.
 */
import assert from "node:assert/strict";
import { LineReader, parseJsonObject, REPO_ROOT } from "./_cli.ts";
import { startTestServer } from "./_helpers.ts";
import { findTool, reportSkip } from "./_tools.ts";

const BUNDLE = new URL("sdk/fanout_client.js", REPO_ROOT);
const NODE = findTool("/usr/bin/node", "node", "install Node.js 20 or later");
reportSkip("the SDK-under-Node failure tests", NODE);

/** Runs tests/_node_subscriber.mjs with `args` after the bundle's URL. */
function subscriber(...args: string[]) {
  const child = new Deno.Command(NODE.path!, {
    args: [
      "--experimental-websocket",
      "--no-warnings",
      "tests/_node_subscriber.mjs",
      BUNDLE.href,
      ...args,
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new LineReader(child.stdout);
  const err = new LineReader(child.stderr);
  return {
    child,
    out,
    err,
    closes: () =>
      out.lines.map(parseJsonObject).filter((r) => r?.event === "close"),
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await Promise.all([out.done, err.done]);
    },
  };
}

Deno.test({
  name:
    "SDK bundle under Node: a server restarted on the same port (down for several attempts) is found again: each failed attempt is a close with a reason, then messages continue",
  ignore: NODE.missing !== undefined,
  async fn() {
    const first = startTestServer({ rate: 200, history: 1000 });
    const port = first.port;
    await using sub = subscriber(first.url, "300");
    await sub.out.waitForJson("messages", (r) => Number(r.messages) >= 20);
    await first.stop();
    await sub.out.waitForJson(
      "two failed attempts while the server is down",
      () => sub.closes().filter((c) => c!.code === 1006).length >= 2,
    );
    const down = sub.closes().filter((c) => c!.code === 1006);
    for (const c of down) {
      assert.equal(c!.willReconnect, true);
      assert.match(String(c!.reason), /connection failed before opening/);
    }
    await using second = startTestServer({ rate: 200, history: 1000, port });
    const done = await sub.out.waitForJson(
      "done",
      (r) => r.event === "done",
      30_000,
    );
    console.log(
      `sdk under node ${done.node}: server stopped, ${down.length}+ failed attempts while down, restarted: ${done.messages} messages, ${done.connects} connections`,
    );
    assert.equal(sub.closes()[0]!.code, 1001, "the shutdown's close");
    assert.ok(Number(done.connects) >= 2);
    assert.equal((await sub.child.status).code, 0, sub.err.text);
    assert.ok(second.hub.size <= 1);
  },
});

Deno.test({
  name:
    "SDK bundle under Node: a bad token ends it with 4401 and the server's reason, and the process exits",
  ignore: NODE.missing !== undefined,
  async fn() {
    await using server = startTestServer({
      rate: 10,
      token: "s3cret",
      openAdmin: true,
    });
    await using sub = subscriber(server.url, "10", "wrong");
    const status = await sub.child.status;
    assert.equal(status.code, 0, sub.err.text);
    const closes = sub.closes();
    assert.equal(closes.length, 1, sub.out.text);
    assert.equal(closes[0]!.code, 4401);
    assert.equal(closes[0]!.status, 401);
    assert.equal(closes[0]!.willReconnect, false);
    assert.ok(String(closes[0]!.reason).length > 0);
  },
});
