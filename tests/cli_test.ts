/**
 * The CLI through `deno run -q -P=fanout main.ts …` subprocesses: help and
 * exit codes, one-line usage errors, the server's output and signals, the
 * `--config` file, and clientsim and demo end to end. Servers listen on
 * port 0 and the bound port is read from their `listening` output.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FanoutProcess,
  parseJsonObject,
  runToEnd,
  waitForListening,
  withDeadline,
} from "./_cli.ts";

const QUICK_MS = 30_000;
const SERVER = [
  "server",
  "--port",
  "0",
  "--host",
  "127.0.0.1",
  "--summary-interval",
  "0.2",
] as const;

/** Non-empty lines of `text`. */
function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

/** A temporary file holding `text`, removed on dispose. */
async function tempYaml(
  text: string,
): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempFile({
    prefix: "fanout-cli-",
    suffix: ".yaml",
  });
  await Deno.writeTextFile(path, text);
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path).catch(() => {}),
  };
}

/** Asserts a usage failure: exit 2, nothing on stdout, one line on stderr matching `pattern`. */
async function assertUsageError(
  args: readonly string[],
  pattern: RegExp,
): Promise<void> {
  const { code, stdout, stderr } = await runToEnd(args, QUICK_MS);
  const shown = `fanout ${
    args.join(" ")
  }\nstdout: ${stdout}\nstderr: ${stderr}`;
  assert.equal(code, 2, `exit code of ${shown}`);
  assert.equal(stdout, "", `nothing started, so no stdout: ${shown}`);
  const errLines = stderr.split("\n").filter((l) => l !== "");
  assert.equal(errLines.length, 1, `exactly one stderr line: ${shown}`);
  assert.ok(errLines[0]!.trim() !== "", `non-empty stderr line: ${shown}`);
  assert.match(errLines[0]!, pattern, shown);
}

/**
 * Waits for the first summary, so the signal lands on a server that is
 * publishing to its clients (a stop with live traffic). Servers given to this
 * run with a short `--summary-interval`.
 */
async function readyForSignals(server: FanoutProcess): Promise<void> {
  await server.stdout.waitForLine(
    "the first summary",
    (l) => l.startsWith("[summary]") || parseJsonObject(l)?.type === "summary",
  );
}

// ---------------------------------------------------------------- dispatch

Deno.test("fanout prints usage on stdout and exits 2 when given no command", async () => {
  const { code, stdout, stderr } = await runToEnd([], QUICK_MS);
  assert.equal(code, 2);
  assert.match(stdout, /Usage: fanout <command>/);
  for (const name of ["server", "clientsim", "demo"]) {
    assert.match(stdout, new RegExp(`^\\s+${name}\\s`, "m"));
  }
  assert.equal(stderr, "");
});

Deno.test("fanout prints usage and exits 0 when given --help", async () => {
  const { code, stdout } = await runToEnd(["--help"], QUICK_MS);
  assert.equal(code, 0);
  assert.match(stdout, /Usage: fanout <command>/);
  assert.match(stdout, /Exit codes/);
});

Deno.test("fanout exits 2 with one stderr line naming the command when the command is unknown", async () => {
  await assertUsageError(["frobnicate"], /unknown command 'frobnicate'/);
});

// ---------------------------------------------------------------- help

Deno.test("fanout subcommands print their flags and exit 0 when given --help", async (t) => {
  const cases: [string, string[]][] = [
    ["server", [
      "--host",
      "--port",
      "--mode",
      "--rate",
      "--payload-bytes",
      "--maxsize",
      "--drop-limit",
      "--full-timeout",
      "--ping-interval",
      "--ping-timeout",
      "--summary-interval",
      "--log-json",
      "--config",
    ]],
    ["clientsim", [
      "--url",
      "--concurrency",
      "--slow-ms",
      "--jitter-ms",
      "--duration",
      "--print-every",
      "--id-prefix",
      "--json",
    ]],
    ["demo", [
      "--duration",
      "--fast",
      "--slow-ms",
      "--rate",
      "--payload-bytes",
      "--json",
    ]],
  ];
  for (const [command, flags] of cases) {
    await t.step(`fanout ${command} --help`, async () => {
      const { code, stdout, stderr } = await runToEnd(
        [command, "--help"],
        QUICK_MS,
      );
      assert.equal(code, 0, stderr);
      assert.match(stdout, new RegExp(`Usage: fanout ${command}`));
      for (const flag of flags) {
        assert.ok(stdout.includes(flag), `${command} --help mentions ${flag}`);
      }
      for (const line of stdout.split("\n")) {
        assert.ok(
          line.length < 100,
          `${command} --help line of ${line.length} columns: ${line}`,
        );
      }
    });
  }
});

Deno.test("fanout server --help lists each flag once, under its section, and says what each source does only where it applies", async () => {
  const { code, stdout } = await runToEnd(["server", "--help"], QUICK_MS);
  assert.equal(code, 0);
  const headings = [
    "Server:",
    "Queue mode (--mode queue):",
    "Channels:",
    "Auth:",
    "Limits:",
    "TLS:",
    "Broker:",
    "Observability:",
  ];
  const at = headings.map((h) => stdout.split("\n").indexOf(h));
  assert.ok(at.every((i) => i > 0), `headings ${at}`);
  assert.deepEqual(at, [...at].sort((a, b) => a - b), "headings in order");
  // A flag's row starts its line; mentions inside other rows do not.
  const heads = stdout.split("\n")
    .map((l) => /^ {2}(?:-h, )?(--[a-z-]+)/.exec(l)?.[1])
    .filter((f) => f !== undefined);
  for (const flag of new Set(heads)) {
    assert.equal(
      heads.filter((f) => f === flag).length,
      1,
      `${flag} has one row`,
    );
  }
  for (const flag of ["--rate", "--max-lag", "--broker", "--cert", "--help"]) {
    assert.ok(heads.includes(flag), `${flag} has a row`);
  }
  const rowOf = (flag: string, section: string) => {
    const from = stdout.indexOf(`\n${section}\n`);
    const to = stdout.indexOf("\n\n", from + 1);
    return new RegExp(`\n {2}${flag} `).test(stdout.slice(from, to));
  };
  assert.ok(rowOf("--max-lag", "Queue mode (--mode queue):"));
  assert.ok(rowOf("--log-json", "Observability:"));
  assert.ok(rowOf("--cert", "TLS:"));
  // The opening no longer claims every source publishes at --rate.
  const intro = stdout.slice(0, stdout.indexOf("\nServer:"));
  assert.doesNotMatch(intro, /--rate/);
  assert.match(stdout, /--rate N +--source synthetic: /);
});

// ---------------------------------------------------------------- bad input

Deno.test("fanout exits 2 with one stderr line naming the problem and starts nothing when input is bad", async (t) => {
  const cases: [string[], RegExp][] = [
    [["server", "--bogus"], /--bogus/],
    [["server", "--rate", "0"], /--rate .*got 0/],
    [["server", "--rate", "abc"], /--rate .*"abc"/],
    // Negative numbers reach the range check, not parseArgs' "ambiguous".
    [
      ["server", "--rate", "-5"],
      /^--rate must be a number from 0\.1 to 100000, got -5$/,
    ],
    [
      ["server", "--max-lag", "-0.5"],
      /^--max-lag must be a number from 0 to 86400, got -0\.5$/,
    ],
    [
      ["clientsim", "--concurrency", "-3"],
      /^--concurrency .* from 1 to .*got -3$/,
    ],
    [["demo", "--rate", "-1"], /^--rate .*got -1$/],
    [["server", "--mode", "fast"], /--mode .*naive or queue.*"fast"/],
    [["server", "--port", "70000"], /--port .*70000/],
    [["server", "--maxsize", "0"], /--maxsize .*got 0/],
    [
      ["server", "--config", "/nonexistent.yaml"],
      /\/nonexistent\.yaml.*cannot read/,
    ],
    [["clientsim", "--concurrency", "0"], /--concurrency .*got 0/],
    [["clientsim", "--url", "http://x"], /--url .*"http:\/\/x"/],
    [["demo", "--duration", "1"], /--duration .*got 1/],
    [["demo", "--bogus"], /--bogus/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(
      `fanout ${args.join(" ")}`,
      () => assertUsageError(args, pattern),
    );
  }
  await t.step(
    "fanout server --config <file with an unknown key>",
    async () => {
      await using file = await tempYaml("server:\n  port: 0\n  colour: blue\n");
      await assertUsageError(["server", "--config", file.path], /colour/);
    },
  );
  await t.step("fanout server --config <invalid YAML>", async () => {
    await using file = await tempYaml("server:\n  port: [0, 1\n  rate: {\n");
    await assertUsageError(
      ["server", "--config", file.path],
      new RegExp(file.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
    );
  });
});

// ---------------------------------------------------------------- server

Deno.test("fanout server streams frames, logs summaries from ACKs, closes clients with 1001 and exits 0 when sent SIGINT", async () => {
  await using server = new FanoutProcess([
    "server",
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--log-json",
    "--summary-interval",
    "0.3",
    "--rate",
    "20",
  ]);
  const listening = await waitForListening(server);
  assert.equal(listening.mode, "queue");
  assert.equal(listening.rate, 20);
  assert.equal(listening.payload_bytes, 64);

  const ws = new WebSocket(`ws://127.0.0.1:${listening.port}/`);
  const closed = new Promise<CloseEvent>((resolve) => {
    ws.onclose = resolve;
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`WebSocket error: ${String(e)}`));
  });
  const frames: unknown[] = [];
  const { promise: firstFrame, resolve: gotFirst } = Promise.withResolvers<
    void
  >();
  ws.onmessage = (event: MessageEvent) => {
    const frame = JSON.parse(String(event.data)) as {
      seq: number;
      ts_send: number;
    };
    frames.push(frame);
    ws.send(JSON.stringify({ ack_ts: frame.ts_send, seq: frame.seq }));
    gotFirst();
  };
  let failure: unknown = undefined;
  try {
    await withDeadline("the WebSocket to open", opened);
    await withDeadline("the first frame", firstFrame);
    const frame = frames[0] as Record<string, unknown>;
    assert.ok(Number.isInteger(frame.seq), `seq is an integer: ${frame.seq}`);
    assert.equal(typeof frame.ts_send, "number");
    assert.equal(typeof frame.payload_b64, "string");
    const payload = Uint8Array.from(
      atob(frame.payload_b64 as string),
      (c) => c.charCodeAt(0),
    );
    assert.equal(payload.length, 64, "the default payload is 64 bytes");

    const summary = await server.stdout.waitForJson(
      "a summary with 1 client and e2e p50 > 0",
      (r) =>
        r.type === "summary" && r.clients === 1 &&
        ((r.e2e_latency as { p50?: number } | undefined)?.p50 ?? 0) > 0,
    );
    for (const key of ["type", "clients", "pub_rate", "disconnects_total"]) {
      assert.ok(key in summary, `summary has ${key}`);
    }
    const e2e = summary.e2e_latency as Record<string, unknown>;
    assert.equal(typeof e2e.p50, "number");
    assert.equal(typeof e2e.p95, "number");
    assert.equal(typeof summary.pub_rate, "number");

    const client = await server.stdout.waitForJson(
      "a client line",
      (r) => r.type === "client",
    );
    for (
      const key of [
        "queue_len",
        "drops_total",
        "send_latency_ms",
        "e2e_latency_ms",
      ]
    ) {
      assert.equal(typeof client[key], "number", `client line has ${key}`);
    }
  } catch (err) {
    failure = err;
  }
  // Stop the server either way: it closes our socket, so nothing leaks.
  server.kill("SIGINT");
  const status = await server.exit(20_000);
  const close = await withDeadline("the WebSocket to close", closed);
  if (failure !== undefined) throw failure;
  assert.equal(status.code, 0, server.stderr.text);
  assert.equal(close.code, 1001);
  assert.ok(
    server.stdout.lines.some((l) => parseJsonObject(l)?.type === "final"),
    `a final line:\n${server.stdout.text}`,
  );
});

Deno.test("fanout server exits 0 when sent SIGTERM", async () => {
  await using server = new FanoutProcess([...SERVER, "--log-json"]);
  await waitForListening(server);
  await readyForSignals(server);
  server.kill("SIGTERM");
  const status = await server.exit(20_000);
  assert.equal(status.code, 0, server.stderr.text);
  // Every line is JSON, the stop included: one shutdown record, then the final summary.
  const records = server.stdout.lines.filter((l) => l !== "").map((l) => {
    const r = parseJsonObject(l);
    assert.ok(r, `a JSON line: ${l}`);
    return r;
  });
  const types = records.map((r) => r.type);
  const at = types.indexOf("shutdown");
  assert.equal(types.filter((t) => t === "shutdown").length, 1, `${types}`);
  assert.equal(records[at]?.signal, "SIGTERM");
  assert.equal(typeof records[at]?.clients, "number");
  assert.ok(at < types.indexOf("final"), `shutdown before final: ${types}`);
});

Deno.test("fanout server prints human 'listening on' and '[summary]' lines when --log-json is not given", async () => {
  await using server = new FanoutProcess([...SERVER]);
  const listening = await server.stdout.waitForLine(
    "the listening line",
    (l) => /listening on ws:\/\/127\.0\.0\.1:\d+\//.test(l),
  );
  assert.equal(parseJsonObject(listening), undefined, "not JSON");
  const summary = await server.stdout.waitForLine(
    "a [summary] line",
    (l) => l.startsWith("[summary]"),
  );
  assert.match(summary, /clients 0/);
  // Nobody ACKs: the line says so instead of showing 0.0/0.0/0.0 ms.
  assert.match(summary, /\| e2e: no ACKs \|/);
  assert.doesNotMatch(summary, /e2e p50/);
  server.kill("SIGINT");
  const status = await server.exit(20_000);
  assert.equal(status.code, 0, server.stderr.text);
  assert.ok(
    server.stdout.lines.some((l) => l.startsWith("[final]")),
    server.stdout.text,
  );
  assert.ok(
    server.stdout.lines.includes(
      "fanout server: SIGINT received, shutting down",
    ),
    server.stdout.text,
  );
});

Deno.test("fanout server applies the --config YAML, and flags override it, when given --config", async (t) => {
  await using file = await tempYaml(
    [
      "server:",
      "  host: 127.0.0.1",
      "  port: 0",
      "  mode: naive",
      "  rate: 7",
      "  payload_bytes: 10",
      "logging:",
      "  json: true",
      "",
    ].join("\n"),
  );
  const cases: [string, string[], string][] = [
    ["the YAML alone", [], "naive"],
    ["--mode queue over the YAML", ["--mode", "queue"], "queue"],
  ];
  for (const [name, extra, mode] of cases) {
    await t.step(name, async () => {
      await using server = new FanoutProcess([
        "server",
        "--config",
        file.path,
        "--summary-interval",
        "0.2",
        ...extra,
      ]);
      const listening = await waitForListening(server);
      assert.equal(listening.host, "127.0.0.1");
      assert.equal(listening.mode, mode);
      assert.equal(listening.rate, 7);
      assert.equal(listening.payload_bytes, 10);
      await readyForSignals(server);
      server.kill("SIGINT");
      assert.equal((await server.exit(20_000)).code, 0, server.stderr.text);
    });
  }
});

Deno.test("fanout server exits 1 with one line saying 'in use' when the port is taken", async () => {
  await using first = new FanoutProcess([...SERVER, "--log-json"]);
  const { port } = await waitForListening(first);
  const second = await runToEnd(
    ["server", "--port", String(port), "--host", "127.0.0.1", "--log-json"],
    QUICK_MS,
  );
  assert.equal(second.code, 1, `stderr: ${second.stderr}`);
  const errLines = lines(second.stderr);
  assert.equal(errLines.length, 1, second.stderr);
  assert.match(errLines[0]!, /in use/);
  assert.match(errLines[0]!, new RegExp(`:${port}\\b`));
  await readyForSignals(first);
  first.kill("SIGINT");
  assert.equal((await first.exit(20_000)).code, 0, first.stderr.text);
});

Deno.test({
  name:
    "fanout server exits 0 when SIGINT arrives right after the listening line",
  // Regression: signal listeners must be installed before `listening` is
  // logged, or a signal sent on that line kills the process with 130.
  fn: async () => {
    for (let i = 0; i < 10; i++) {
      await using server = new FanoutProcess([...SERVER, "--log-json"]);
      await waitForListening(server);
      server.kill("SIGINT");
      const status = await server.exit(20_000);
      assert.equal(status.code, 0, `run ${i + 1}: ${server.stderr.text}`);
    }
  },
});

// ---------------------------------------------------------------- clientsim

Deno.test("fanout clientsim prints one JSON report with every client's messages when given --json", async () => {
  await using server = new FanoutProcess([
    ...SERVER,
    "--log-json",
    "--rate",
    "50",
  ]);
  const { port } = await waitForListening(server);
  const run = await runToEnd([
    "clientsim",
    "--url",
    `ws://127.0.0.1:${port}/`,
    "--concurrency",
    "3",
    "--duration",
    "2",
    "--json",
  ], 60_000);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as {
    clients: { id: string; messages: number }[];
  };
  assert.equal(report.clients.length, 3, run.stdout);
  for (const c of report.clients) {
    assert.ok(c.messages > 0, `${c.id} received messages: ${c.messages}`);
  }
  assert.ok(lines(run.stderr).length > 0, "progress goes to stderr");
  await readyForSignals(server);
  server.kill("SIGINT");
  assert.equal((await server.exit(20_000)).code, 0, server.stderr.text);
});

Deno.test("fanout clientsim prints the final table when --json is not given", async () => {
  await using server = new FanoutProcess([...SERVER, "--log-json"]);
  const { port } = await waitForListening(server);
  const run = await runToEnd([
    "clientsim",
    "--url",
    `ws://127.0.0.1:${port}/`,
    "--duration",
    "1",
  ], 60_000);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Client\s+Messages\s.*\sClosed$/m);
  await readyForSignals(server);
  server.kill("SIGINT");
  assert.equal((await server.exit(20_000)).code, 0, server.stderr.text);
});

// ---------------------------------------------------------------- demo

Deno.test("fanout demo prints naive, queue, ladder and a verdict as JSON and progress on stderr when given --json", async () => {
  const run = await runToEnd(["demo", "--duration", "4", "--json"], 60_000);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(typeof doc.naive, "object");
  assert.equal(typeof doc.queue, "object");
  assert.equal(typeof doc.ladder, "object");
  assert.ok(doc.naive !== null && doc.queue !== null && doc.ladder !== null);
  const verdict = doc.verdict as unknown[];
  assert.ok(Array.isArray(verdict), "verdict is an array");
  assert.equal(verdict.length, 3);
  for (const line of verdict) assert.equal(typeof line, "string");
  assert.ok(lines(run.stderr).length > 2, `progress lines:\n${run.stderr}`);
  assert.match(run.stderr, /NAIVE/);
  assert.match(run.stderr, /QUEUE/);
  assert.match(run.stderr, /LADDER/);
});
