/**
 * `--reuse-port` with `--metrics-port` and `--instance-id`: two `fanout
 * server` processes share one port, and each is scrapable on its own
 * metrics address, where every series names the process that answered.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FanoutProcess, runToEnd, waitForListening } from "./_cli.ts";

const COMMON = [
  "server",
  "--host",
  "127.0.0.1",
  "--reuse-port",
  "--metrics-port",
  "0",
  "--rate",
  "5",
  "--log-json",
  "--summary-interval",
  "3600",
] as const;

/** The sample lines of a Prometheus text (no comments, no blank lines). */
function samples(text: string): string[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

Deno.test({
  name:
    "two processes on one --reuse-port port: each answers on its own --metrics-port, labelled with its own --instance-id",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using a = new FanoutProcess([
      ...COMMON,
      "--port",
      "0",
      "--instance-id",
      "node-a",
    ]);
    const first = await waitForListening(a);
    await using b = new FanoutProcess([
      ...COMMON,
      "--port",
      String(first.port),
      "--instance-id",
      "node-b",
    ]);
    const second = await waitForListening(b);
    assert.equal(second.port, first.port, "one shared port");
    const own = [first.process_metrics, second.process_metrics] as string[];
    assert.ok(own.every((u) => typeof u === "string"), JSON.stringify(own));
    assert.notEqual(own[0], own[1], "two metrics addresses");

    const pids = new Set<string>();
    const pairs: [string, string][] = [[own[0]!, "node-a"], [
      own[1]!,
      "node-b",
    ]];
    for (const [url, id] of pairs) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      const lines = samples(await res.text());
      const info = lines.find((l) => l.startsWith("fanout_process_info{"));
      const m = /instance_id="([^"]*)",pid="(\d+)"\} 1$/.exec(info ?? "");
      assert.ok(m, `a process_info line: ${info}`);
      assert.equal(m[1], id);
      pids.add(m[2]!);
      // Every series carries the process's label, so scrapes of two
      // processes never read as one counter jumping.
      const unlabelled = lines.filter((l) =>
        !l.includes(`instance_id="${id}"`)
      );
      assert.deepEqual(unlabelled, [], `every series of ${id} is labelled`);
      // Only /metrics is served there.
      const other = await fetch(new URL("/", url));
      await other.body?.cancel();
      assert.equal(other.status, 404);
    }
    assert.equal(pids.size, 2, "two processes answered");

    // The shared port answers from one of them, and says which.
    const shared = await (await fetch(
      `http://127.0.0.1:${first.port}/metrics`,
    )).text();
    assert.match(shared, /^fanout_process_info\{instance_id="node-[ab]",/m);
    // So does the dashboard's feed: its header names the process.
    const feed = await fetch(`http://127.0.0.1:${first.port}/events`, {
      signal: AbortSignal.timeout(30_000), // a bound, not a wait
    });
    const reader = feed.body!.pipeThrough(new TextDecoderStream()).getReader();
    const firstData = /^data: (.*)\n\n/m;
    let text = "";
    while (!firstData.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    const event = JSON.parse(firstData.exec(text)?.[1] ?? "null");
    assert.match(event.info.instance, /^node-[ab]$/);
  },
});

Deno.test("--metrics-port asks for the admin token as the main port does, and a taken metrics port is named in the one-line error (exit 1)", async () => {
  await using server = new FanoutProcess([
    ...COMMON,
    "--port",
    "0",
    "--admin-token",
    "adm",
  ]);
  const listening = await waitForListening(server);
  const url = listening.process_metrics as string;
  const refused = await fetch(url);
  await refused.body?.cancel();
  assert.equal(refused.status, 401);
  const allowed = await fetch(url, {
    headers: { authorization: "Bearer adm" },
  });
  assert.equal(allowed.status, 200);
  assert.match(await allowed.text(), /^fanout_process_info\{/m);

  // A second process whose --metrics-port is the first one's: exit 1, one line.
  const taken = new URL(url).port;
  const { code, stderr } = await runToEnd(
    [...COMMON, "--port", "0", "--metrics-port", taken],
    30_000,
  );
  assert.equal(code, 1, stderr);
  const lines = stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, stderr);
  assert.match(
    lines[0]!,
    new RegExp(`:${taken} \\(--metrics-port\\) is already in use`),
  );
});
