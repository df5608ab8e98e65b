import assert from "node:assert/strict";
import { run } from "../client/cli.ts";
import { DEFAULT_CLIENTSIM_OPTIONS } from "../client/options.ts";
import { formatReport, reportToJson } from "../client/report.ts";
import type { ClientRow, SwarmReport } from "../client/swarm.ts";
import { UsageError } from "../lib/cli_args.ts";
import { WsFixture } from "./_ws_fixture.ts";

const latency = (ms: number) => ({
  count: 10,
  min: ms / 2,
  avg: ms,
  p50: ms,
  p95: ms * 2,
  p99: ms * 3,
  max: ms * 3,
});

function row(id: string, extra: Partial<ClientRow> = {}): ClientRow {
  return {
    id,
    messages: 234,
    ratePerSec: 46.8,
    latency: latency(0.8),
    drops: 0,
    connects: 1,
    errors: 0,
    badFrames: 0,
    acksSent: 234,
    closes: [],
    repeats: 0,
    recovered: 0,
    notices: { dropped: 0, missed: 0, resets: 0, expired: 0, tierChanges: 0 },
    ...extra,
  };
}

const REPORT: SwarmReport = {
  url: "ws://127.0.0.1:8765",
  config: (({ json: _, ...rest }) => rest)(DEFAULT_CLIENTSIM_OPTIONS),
  startedAt: 1_700_000_000_000,
  endedAt: 1_700_000_005_000,
  elapsedSec: 5,
  stoppedEarly: false,
  clients: [
    row("fast-0"),
    row("slow-0", {
      messages: 40,
      ratePerSec: 2.8,
      latency: latency(1555.3),
      drops: 12,
      connects: 2,
      closes: [{
        code: 4000,
        reason: "slow client: 51 drops in 10 s",
        atMs: 1_700_000_003_000,
      }],
    }),
  ],
  totals: {
    requested: 2,
    clients: 2,
    clientsConnected: 2,
    messages: 274,
    ratePerSec: 49.6,
    latency: latency(100),
    drops: 12,
    connects: 3,
    errors: 0,
    badFrames: 0,
    closes: 1,
    recovered: 0,
    repeats: 0,
    resets: 0,
  },
  failures: [],
  failedAttempts: [],
};

Deno.test("formatReport() prints the header, a row per client and totals when given a report", () => {
  const lines = formatReport(REPORT).split("\n");
  assert.equal(
    lines[0],
    "Client  Messages  Rate/s    Min     Avg     P95     P99  Drops  Recovered  Repeats  Resets  Closed",
  );
  assert.match(
    lines[1]!,
    /^fast-0\s+234\s+46\.8\s+0\.4\s+0\.8\s+1\.6\s+2\.4\s+0\s+0\s+0\s+0\s+-$/,
  );
  assert.match(
    lines[2]!,
    /^slow-0\s+40\s+2\.8\s+777\.6\s+1555\.3\s+3110\.6\s+4665\.9\s+12\s+0\s+0\s+0\s+4000 slow client: 51 drops in 10 s$/,
  );
  assert.match(lines[3]!, /^-+$/);
  assert.match(
    lines[4]!,
    /^total\s+274\s+49\.6\s.*\s12\s+0\s+0\s+0\s+1 close$/,
  );
  assert.match(lines[5]!, /^2 clients \(2 connected\), 3 connects, 0 errors/);
  // Columns line up: every numeric cell ends where its header ends.
  const end = lines[0]!.indexOf("Messages") + "Messages".length;
  for (const line of lines.slice(1, 3)) assert.match(line[end - 1]!, /\d/);
});

Deno.test("formatReport() ends with the distinct reasons connections failed, when there were any", () => {
  const plain = formatReport(REPORT).split("\n");
  assert.doesNotMatch(plain.at(-1)!, /failed/);
  const failed = formatReport({
    ...REPORT,
    failures: ["503 Service Unavailable: server full", "connection refused"],
    failedAttempts: [4, 1],
  }).split("\n");
  assert.deepEqual(failed.slice(-3), [
    "connections failed:",
    "  503 Service Unavailable: server full (4 attempts)",
    "  connection refused (1 attempt)",
  ]);
});

Deno.test("formatReport() without per-client rows prints the totals, and says how many clients asked for never connected", () => {
  const lines = formatReport({
    ...REPORT,
    totals: { ...REPORT.totals, requested: 5, clients: 4, clientsConnected: 2 },
  }, { perClient: false }).split("\n");
  assert.match(lines[0]!, /^Client\s/);
  assert.match(lines[1]!, /^-+$/);
  assert.match(lines[2]!, /^total\s/);
  assert.ok(!lines.some((l) => /^(fast|slow)-0/.test(l)));
  assert.ok(
    lines.includes(
      "3 of 5 clients never connected (1 not started before the run ended)",
    ),
    lines.join("\n"),
  );
});

Deno.test("reportToJson() returns JSON that parses back to the report when given a report", () => {
  assert.deepEqual(JSON.parse(reportToJson(REPORT)), REPORT);
});

Deno.test("run() prints only one JSON document on stdout when given --json", async () => {
  await using fixture = WsFixture.start({ rate: 100 });
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    [
      "--url",
      fixture.url,
      "--concurrency",
      "2",
      "--duration",
      "0.5",
      "--print-every",
      "5",
      "--json",
      "--per-client",
    ],
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  assert.equal(code, 0);
  assert.equal(out.length, 1);
  const report = JSON.parse(out[0]!) as SwarmReport;
  assert.equal(report.clients.length, 2);
  assert.ok(report.totals.messages > 0);
  assert.ok(
    err.some((l) => l.startsWith("[cli-0] Count:")),
    "progress on stderr",
  );
});

Deno.test("run() prints progress and the table on stdout and stops early when the signal aborts", async () => {
  await using fixture = WsFixture.start({ rate: 100 });
  const out: string[] = [];
  const stop = new AbortController();
  const code = await run(
    [
      "--url",
      fixture.url,
      "--duration",
      "60",
      "--print-every",
      "10",
      "--id-prefix",
      "x",
      "--per-client",
    ],
    {
      out: (l) => {
        out.push(l);
        if (l.startsWith("[x-0] Count:     20")) stop.abort();
      },
      err: () => {},
      signal: stop.signal,
    },
  );
  assert.equal(code, 0);
  assert.ok(out.some((l) => l.startsWith("[x-0] Count:     10 |")));
  const table = out.at(-1)!;
  assert.match(table, /^Client\s+Messages\s+Rate\/s/);
  assert.match(table, /\nx-0\s+\d+/);
  assert.match(table, /\(stopped early\)/);
});

Deno.test("run() prints help and returns 0 when given --help, throws UsageError when given a bad flag", async () => {
  const out: string[] = [];
  assert.equal(await run(["--help"], { out: (l) => out.push(l) }), 0);
  assert.match(out.join("\n"), /Usage: fanout clientsim/);
  await assert.rejects(run(["--concurrency", "0"]), UsageError);
  await assert.rejects(run(["--url", "http://x"]), /--url/);
});
