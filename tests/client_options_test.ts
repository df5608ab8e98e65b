import assert from "node:assert/strict";
import {
  clientsimHelp,
  DEFAULT_CLIENTSIM_OPTIONS,
  parseClientsimArgs,
} from "../client/options.ts";
import { UsageError } from "../lib/cli_args.ts";

function options(args: string[]) {
  const parsed = parseClientsimArgs(args);
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error("unreachable");
  return parsed.options;
}

Deno.test("parseClientsimArgs() returns the seed's defaults when given no flags", () => {
  assert.deepEqual(options([]), {
    url: "ws://localhost:8765",
    concurrency: 1,
    slowMs: 0,
    jitterMs: 0,
    durationSec: 30,
    printEvery: 100,
    idPrefix: "cli",
    json: false,
    resume: false,
    control: false,
    batch: false,
    connectTimeoutMs: 10_000,
    perClient: false,
  });
  assert.deepEqual(options([]), DEFAULT_CLIENTSIM_OPTIONS);
  assert.ok(Object.isFrozen(options([])));
});

Deno.test("parseClientsimArgs() applies each flag when given one", async (t) => {
  const cases: [string[], Partial<Record<string, unknown>>][] = [
    [["--url", "wss://example.com:9000/feed"], {
      url: "wss://example.com:9000/feed",
    }],
    [["--url=ws://127.0.0.1:1"], { url: "ws://127.0.0.1:1" }],
    [["--concurrency", "1000"], { concurrency: 1000 }],
    [["--concurrency", "20000"], { concurrency: 20000 }],
    [["--slow-ms", "200"], { slowMs: 200 }],
    [["--slow-ms", "0.5"], { slowMs: 0.5 }],
    [["--jitter-ms", "50"], { jitterMs: 50 }],
    [["--duration", "0.1"], { durationSec: 0.1 }],
    [["--duration", "86400"], { durationSec: 86400 }],
    [["--print-every", "1"], { printEvery: 1 }],
    [["--id-prefix", "slow"], { idPrefix: "slow" }],
    [["--json"], { json: true }],
    [["--resume"], { resume: true }],
    [["--control"], { control: true }],
    [["--batch"], { batch: true }],
    [["--channel", "prices"], { url: "ws://localhost:8765/?channel=prices" }],
    [["--channel", "a.b", "--token", "t k"], {
      url: "ws://localhost:8765/?channel=a.b&token=t+k",
    }],
  ];
  for (const [args, expected] of cases) {
    await t.step(args.join(" "), () => {
      assert.deepEqual(options(args), {
        ...DEFAULT_CLIENTSIM_OPTIONS,
        ...expected,
      });
    });
  }
});

Deno.test("parseClientsimArgs() returns help when given --help or -h", () => {
  assert.deepEqual(parseClientsimArgs(["--help"]), { help: true });
  assert.deepEqual(parseClientsimArgs(["-h", "--concurrency", "nope"]), {
    help: true,
  });
  const help = clientsimHelp();
  for (
    const flag of [
      "--url",
      "--concurrency",
      "--slow-ms",
      "--jitter-ms",
      "--duration",
      "--print-every",
      "--id-prefix",
      "--json",
      "--help",
    ]
  ) {
    assert.ok(help.includes(flag), `help mentions ${flag}`);
  }
});

Deno.test("parseClientsimArgs() throws a one-line UsageError naming the flag when a value is bad", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--url", "http://localhost:8765"], /--url.*ws:\/\/ or wss:\/\//],
    [["--url", "localhost:8765"], /--url/],
    [["--url", "not a url"], /--url/],
    [["--concurrency", "0"], /--concurrency.*1 to 20000/],
    [["--concurrency", "20001"], /--concurrency/],
    [["--concurrency", "2.5"], /--concurrency.*whole number/],
    [["--concurrency", "many"], /--concurrency/],
    [["--concurrency", ""], /--concurrency/],
    [["--slow-ms", "-1"], /--slow-ms/],
    [["--slow-ms", "600001"], /--slow-ms/],
    [["--slow-ms", "NaN"], /--slow-ms/],
    [["--jitter-ms", "-5"], /--jitter-ms/],
    [["--jitter-ms", "Infinity"], /--jitter-ms/],
    [["--duration", "0"], /--duration.*0\.1/],
    [["--duration", "86401"], /--duration/],
    [["--duration", "30s"], /--duration/],
    [["--print-every", "0"], /--print-every/],
    [["--print-every", "1.5"], /--print-every/],
    [["--id-prefix", ""], /--id-prefix/],
    [["--id-prefix", "a b"], /--id-prefix/],
    [["--channel", "../etc"], /--channel/],
    [["--channel", ""], /--channel/],
    [["--bogus"], /bogus/],
    [["--concurrency"], /concurrency/],
    [["extra"], /extra|positional/i],
    [["--json=yes"], /json/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(JSON.stringify(args), () => {
      assert.throws(
        () => parseClientsimArgs(args),
        (err: unknown) =>
          err instanceof UsageError && pattern.test(err.message) &&
          !err.message.includes("\n"),
      );
    });
  }
});
