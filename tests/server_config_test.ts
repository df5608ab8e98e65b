import assert from "node:assert/strict";
import { UsageError } from "../lib/cli_args.ts";
import { parseServerArgs, serverHelp } from "../server/config/args.ts";
import { resolveServerConfig } from "../server/config/config.ts";
import {
  resolveServerOptions,
  SERVER_DEFAULTS,
  type ServerOptions,
} from "../server/config/options.ts";

type Expected = RegExp | string;

/** Parses `args` into options, asserting it is not a help request. */
async function configOf(args: readonly string[]): Promise<ServerOptions> {
  const parsed = await parseServerArgs(args);
  if (parsed.help) throw new assert.AssertionError({ message: "got help" });
  return parsed.options;
}

/** Asserts `fn` throws a one-line UsageError equal to / matching `expected`. */
async function assertUsageError(fn: () => unknown, expected: Expected) {
  await assert.rejects(async () => await fn(), (err: unknown) => {
    assert.ok(err instanceof UsageError, `not a UsageError: ${err}`);
    assert.ok(!err.message.includes("\n"), `multi-line: ${err.message}`);
    if (typeof expected === "string") assert.equal(err.message, expected);
    else assert.match(err.message, expected);
    return true;
  });
}

/** Runs `fn` with the path of a temporary YAML file holding `text`. */
async function withYaml(text: string, fn: (path: string) => Promise<void>) {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/** Renders `"section.key: value"` lines as sectioned YAML. */
function yamlOf(lines: readonly string[]): string {
  const sections = new Map<string, string[]>();
  for (const line of lines) {
    const [section = "", rest = ""] = line.split(/\.(.*)/s);
    sections.set(section, [...(sections.get(section) ?? []), `  ${rest}`]);
  }
  return [...sections].map(([name, keys]) => `${name}:\n${keys.join("\n")}\n`)
    .join("");
}

type Field = Exclude<keyof ServerOptions, "configPath">;
type Case = [field: Field, source: string, value: ServerOptions[Field]];

/** Per field: flags that set a non-default value. */
// deno-fmt-ignore
const BY_FLAG: Case[] = [
  ["mode", "--mode naive", "naive"], ["host", "--host 127.0.0.1", "127.0.0.1"],
  ["listener", "--listener serve", "serve"],
  ["port", "--port 0", 0], ["rate", "--rate 2.5", 2.5],
  ["payloadBytes", "--payload-bytes 65536", 65536], ["maxsize", "--maxsize 10", 10],
  ["dropLimit", "--drop-limit 0", 0], ["fullTimeout", "--full-timeout 0.5", 0.5],
  ["pingInterval", "--ping-interval 0", 0], ["pingTimeout", "--ping-timeout 1.5", 1.5],
  ["summaryInterval", "--summary-interval 0.25", 0.25], ["logJson", "--log-json", true],
  ["metricsPerClient", "--metrics-per-client", true], ["staticDir", "--static examples", "examples"],
  ["instanceId", "--instance-id node-a", "node-a"], ["metricsPort", "--metrics-port 9101", 9101],
  ["source", "--source stdin", "stdin"], ["policy", "--policy conflate", "conflate"],
  ["conflateKey", "--conflate-key sym", "sym"], ["maxQueueBytes", "--max-queue-bytes 65536", 65536],
  ["batchMs", "--batch-ms 25", 25], ["maxLag", "--max-lag 5", 5],
  ["lagInterval", "--lag-interval 0", 0],
  ["ladderDownMsgs", "--ladder-down-msgs 30", 30], ["ladderDownMs", "--ladder-down-ms 200", 200],
  ["ladderUpMs", "--ladder-up-ms 9000", 9000],
  ["ladderAckWindow", "--ladder-ack-window 4", 4],
  ["ladderAckWindowBytes", "--ladder-ack-window-bytes 65536", 65536],
  ["history", "--history 100", 100], ["maxChannels", "--max-channels 5", 5],
  ["channelTtl", "--channel-ttl prices=500,news=2000", ["prices=500", "news=2000"]],
  ["idempotencyWindow", "--idempotency-window 60", 60],
  ["token", "--token t0k", "t0k"], ["jwtSecret", "--jwt-secret s3c", "s3c"],
  ["publishToken", "--publish-token p", "p"], ["adminToken", "--admin-token a", "a"],
  ["openAdmin", "--open-admin", true], ["jwtMaxLifetime", "--jwt-max-lifetime 60", 60],
  ["maxClients", "--max-clients 3", 3],
  ["maxFrameBytes", "--max-frame-bytes 128", 128], ["maxInboundRate", "--max-inbound-rate 20", 20],
  ["maxMessageBytes", "--max-message-bytes 100", 100],
  ["handshakeTimeout", "--handshake-timeout 2.5", 2.5], ["maxPending", "--max-pending 7", 7],
  ["maxReplays", "--max-replays 3", 3], ["maxDashboards", "--max-dashboards 2", 2],
  ["maxConnectRate", "--max-connect-rate 20", 20], ["drainMs", "--drain-ms 500", 500],
  ["replayBudget", "--replay-budget 1000", 1000],
  ["allowedOrigins", "--allowed-origins https://a.example,https://b.example", ["https://a.example", "https://b.example"]],
  ["cert", "--cert c.pem", "c.pem"], ["key", "--key k.pem", "k.pem"],
  ["reusePort", "--reuse-port", true],
  ["broker", "--broker redis://127.0.0.1:6379/2", "redis://127.0.0.1:6379/2"],
  ["brokerTimeoutMs", "--broker-timeout-ms 250", 250],
];

/** Fields that are only valid together: a single-field case brings its partner. */
const PARTNERS: Partial<Record<Field, Field>> = {
  policy: "conflateKey",
  conflateKey: "policy",
  cert: "key",
  key: "cert",
  token: "adminToken",
  jwtSecret: "adminToken",
};

/** Per field: a YAML key that sets another non-default value. */
// deno-fmt-ignore
const BY_YAML: Case[] = [
  ["mode", "server.mode: naive", "naive"], ["host", "server.host: ::1", "::1"],
  ["listener", "server.listener: serve", "serve"],
  ["port", "server.port: 9000", 9000], ["rate", "server.rate: 1e3", 1000],
  ["payloadBytes", "server.payload_bytes: 0", 0], ["pingInterval", "server.ping_interval: 3", 3],
  ["pingTimeout", "server.ping_timeout: 4", 4], ["maxsize", "queue_mode.maxsize: 7", 7],
  ["dropLimit", "queue_mode.drop_limit: 8", 8], ["fullTimeout", "queue_mode.full_timeout: 9.5", 9.5],
  ["logJson", "logging.json: true", true], ["summaryInterval", "logging.summary_interval: 60", 60],
  ["metricsPerClient", "metrics.per_client: true", true], ["staticDir", "server.static_dir: www", "www"],
  ["instanceId", "metrics.instance_id: node-b", "node-b"], ["metricsPort", "metrics.port: 9102", 9102],
  ["source", "server.source: http", "http"], ["policy", "queue_mode.policy: conflate", "conflate"],
  ["conflateKey", "queue_mode.conflate_key: id", "id"], ["maxQueueBytes", "queue_mode.max_queue_bytes: 1000", 1000],
  ["batchMs", "queue_mode.batch_ms: 50", 50], ["maxLag", "queue_mode.max_lag: 0", 0],
  ["lagInterval", "queue_mode.lag_interval: 2.5", 2.5],
  ["ladderDownMsgs", "queue_mode.ladder_down_msgs: 20", 20], ["ladderDownMs", "queue_mode.ladder_down_ms: 300", 300],
  ["ladderUpMs", "queue_mode.ladder_up_ms: 4000", 4000],
  ["ladderAckWindow", "queue_mode.ladder_ack_window: 0", 0],
  ["ladderAckWindowBytes", "queue_mode.ladder_ack_window_bytes: 1048576", 1048576],
  ["history", "channels.history: 7", 7], ["maxChannels", "channels.max_channels: 9", 9],
  ["channelTtl", "channels.ttl: [a=1]", ["a=1"]],
  ["idempotencyWindow", "channels.idempotency_window: 60", 60],
  ["token", "auth.token: tt", "tt"], ["jwtSecret", "auth.jwt_secret: jj", "jj"],
  ["publishToken", "auth.publish_token: pp", "pp"], ["adminToken", "auth.admin_token: aa", "aa"],
  ["openAdmin", "auth.open_admin: true", true], ["jwtMaxLifetime", "auth.jwt_max_lifetime: 3600", 3600],
  ["maxClients", "limits.max_clients: 11", 11],
  ["maxFrameBytes", "limits.max_frame_bytes: 256", 256], ["maxInboundRate", "limits.max_inbound_rate: 2.5", 2.5],
  ["maxMessageBytes", "limits.max_message_bytes: 12", 12],
  ["handshakeTimeout", "limits.handshake_timeout: 9", 9], ["maxPending", "limits.max_pending: 50", 50],
  ["maxReplays", "limits.max_replays: 4", 4], ["maxDashboards", "limits.max_dashboards: 3", 3],
  ["maxConnectRate", "limits.max_connect_rate: 50", 50], ["drainMs", "limits.drain_ms: 2000", 2000],
  ["replayBudget", "limits.replay_budget: 500", 500],
  ["allowedOrigins", "limits.allowed_origins: [https://x.example]", ["https://x.example"]],
  ["cert", "tls.cert: /tmp/c.pem", "/tmp/c.pem"], ["key", "tls.key: /tmp/k.pem", "/tmp/k.pem"],
  ["reusePort", "server.reuse_port: true", true],
  ["broker", "broker.url: rediss://:pw@redis.internal:6380", "rediss://:pw@redis.internal:6380"],
  ["brokerTimeoutMs", "broker.timeout_ms: 2500", 2500],
];

/** The single-field cases for `field` from `table`, with its partner when it has one. */
function withPartner(table: Case[], field: Field): Case[] {
  const partner = PARTNERS[field];
  const own = table.filter(([f]) => f === field);
  return partner ? [...own, ...table.filter(([f]) => f === partner)] : own;
}

const ALL_YAML = yamlOf(BY_YAML.map(([, line]) => line));
const fieldsOf = (cases: Case[]) => cases.map(([field]) => field).sort();
const configFrom = (cases: Case[]) =>
  Object.fromEntries(cases.map(([field, , value]) => [field, value]));

Deno.test("parseServerArgs() returns the frozen defaults when given no flags", async () => {
  const config = await configOf([]);
  assert.deepEqual(config, SERVER_DEFAULTS);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(SERVER_DEFAULTS));
  // deno-fmt-ignore
  assert.deepEqual({ ...SERVER_DEFAULTS }, {
    mode: "queue", listener: "guarded", host: "0.0.0.0", port: 8765, rate: 100, payloadBytes: 64,
    maxsize: 100, dropLimit: 50, fullTimeout: 5, pingInterval: 20,
    pingTimeout: 20, summaryInterval: 5, logJson: false, metricsPerClient: false,
    staticDir: undefined, source: "synthetic", policy: "drop-oldest", conflateKey: undefined, maxQueueBytes: 0,
    ladderDownMsgs: 50, ladderDownMs: 500, ladderUpMs: 5000, ladderAckWindow: 32, ladderAckWindowBytes: 262144,
    batchMs: 10, lagInterval: 1, maxLag: 30, history: 0, maxChannels: 1000, token: undefined, jwtSecret: undefined,
    publishToken: undefined, adminToken: undefined, openAdmin: false, jwtMaxLifetime: 86400,
    maxClients: 10000, maxFrameBytes: 4096, maxInboundRate: 0, maxConnectRate: 0, drainMs: 10000, replayBudget: 0,
    maxMessageBytes: 1048576, handshakeTimeout: 5, maxPending: 1000, maxReplays: 100,
    maxDashboards: 10, allowedOrigins: [], channelTtl: [], idempotencyWindow: 300, cert: undefined, key: undefined,
    reusePort: false, broker: "memory", brokerTimeoutMs: 1000, configPath: undefined,
    instanceId: undefined, metricsPort: undefined,
  });
});

Deno.test("the test tables cover every ServerOptions field", () => {
  const all = Object.keys(SERVER_DEFAULTS).filter((f) => f !== "configPath");
  assert.deepEqual(fieldsOf(BY_FLAG), all.sort());
  assert.deepEqual(fieldsOf(BY_YAML), all.sort());
});

Deno.test("parseServerArgs() sets each field from its flag", async (t) => {
  for (const [field, flags] of BY_FLAG) {
    await t.step(`${flags} sets ${field}`, async () => {
      const cases = withPartner(BY_FLAG, field);
      const config = await configOf(cases.flatMap(([, f]) => f.split(" ")));
      assert.deepEqual(config, { ...SERVER_DEFAULTS, ...configFrom(cases) });
    });
  }
});

Deno.test("parseServerArgs() applies every YAML key", async (t) => {
  for (const [field, line] of BY_YAML) {
    await t.step(`${line} sets ${field}`, async () => {
      const cases = withPartner(BY_YAML, field);
      // source http needs a publish token: a single-key file brings one.
      const extra: Case[] = field === "source"
        ? BY_YAML.filter(([f]) => f === "publishToken")
        : [];
      await withYaml(
        yamlOf([...cases, ...extra].map(([, l]) => l)),
        async (path) => {
          const config = await configOf(["--config", path]);
          const expected = {
            ...configFrom([...cases, ...extra]),
            configPath: path,
          };
          assert.deepEqual(config, { ...SERVER_DEFAULTS, ...expected });
        },
      );
    });
  }
  await t.step("all keys in one file", async () => {
    await withYaml(ALL_YAML, async (path) => {
      const config = await configOf([`--config=${path}`]);
      assert.deepEqual(config, { ...configFrom(BY_YAML), configPath: path });
    });
  });
});

Deno.test("parseServerArgs() lets flags override YAML for every field", async () => {
  const flags: Case[] = BY_FLAG.map((c) =>
    c[0] === "logJson" ? ["logJson", "--no-log-json", false] : c
  );
  await withYaml(ALL_YAML, async (path) => {
    const args = flags.flatMap(([, flag]) => flag.split(" "));
    const config = await configOf(["--config", path, ...args]);
    assert.deepEqual(config, { ...configFrom(flags), configPath: path });
  });
});

Deno.test("parseServerArgs() merges YAML and flags that set different fields", async () => {
  await withYaml("server:\n  rate: 5\n", async (path) => {
    const config = await configOf(["--port", "0", "--config", path]);
    assert.deepEqual([config.rate, config.port, config.mode], [5, 0, "queue"]);
  });
});

Deno.test("parseServerArgs() returns help:true for --help and -h", async () => {
  assert.deepEqual(await parseServerArgs(["--help"]), { help: true });
  assert.deepEqual(await parseServerArgs(["-h"]), { help: true });
  assert.deepEqual(await parseServerArgs(["--rate", "0", "-h"]), {
    help: true,
  });
});

Deno.test("parseServerArgs() rejects malformed command lines", async (t) => {
  const cases: [string[], Expected][] = [
    [["--bogus"], /^fanout server: Unknown option '--bogus'.*--help'$/],
    [["--rate"], /^fanout server: .*'--rate <value>' argument missing/],
    [["--mode"], /^fanout server: .*'--mode <value>' argument missing/],
    [["--config"], /^fanout server: .*'--config <value>' argument missing/],
    [["extra"], /^fanout server: .*'extra'/],
    [["--log-json", "--no-log-json"], /^--log-json and --no-log-json/],
  ];
  for (const [args, expected] of cases) {
    await t.step(`rejects ${args.join(" ")}`, async () => {
      await assertUsageError(() => parseServerArgs(args), expected);
    });
  }
});

/** Each numeric flag with its range and whether it must be whole. */
// deno-fmt-ignore
const NUMERIC: [flag: string, min: number, max: number, integer: boolean][] = [
  ["--port", 0, 65535, true], ["--rate", 0.1, 100000, false],
  ["--payload-bytes", 0, 16777216, true], ["--maxsize", 1, 1000000, true],
  ["--drop-limit", 0, 1000000000, true], ["--full-timeout", 0.05, 86400, false],
  ["--ping-interval", 0, 86400, false], ["--ping-timeout", 0.05, 86400, false],
  ["--summary-interval", 0.1, 86400, false], ["--max-queue-bytes", 0, 2 ** 40, true],
  ["--history", 0, 1000000, true], ["--max-channels", 1, 1000000, true],
  ["--max-clients", 1, 1000000, true], ["--max-frame-bytes", 64, 16777216, true],
  ["--max-inbound-rate", 0, 1000000, false], ["--max-message-bytes", 1, 67108864, true],
];

Deno.test("parseServerArgs() rejects out-of-range and non-numeric values naming the flag", async (t) => {
  for (const [flag, min, max, integer] of NUMERIC) {
    const kind = integer ? "a whole number" : "a number";
    const below = min === 0 ? -1 : min / 2;
    const bad = [String(below), String(max * 2), "ten", "", "NaN", "1e999"];
    if (integer) bad.push("1.5");
    for (const raw of bad) {
      await t.step(`rejects ${flag} ${JSON.stringify(raw)}`, async () => {
        const got = isFinite(Number(raw)) && raw !== "" ? raw : `"${raw}"`;
        await assertUsageError(
          () => parseServerArgs([`${flag}=${raw}`]),
          `${flag} must be ${kind} from ${min} to ${max}, got ${got}`,
        );
      });
    }
    await t.step(`accepts ${flag} at both ends of its range`, async () => {
      await configOf([`${flag}=${min}`]);
      await configOf([`${flag}=${max}`]);
    });
  }
});

Deno.test("parseServerArgs() rejects --rate 0 with a message naming --rate", async () => {
  await assertUsageError(
    () => parseServerArgs(["--rate", "0"]),
    "--rate must be a number from 0.1 to 100000, got 0",
  );
});

Deno.test("parseServerArgs() rejects a bad --mode or --host", async (t) => {
  const host = "--host must be a host name or IP address without spaces, got";
  const cases: [string[], string][] = [
    [["--mode", "fast"], '--mode must be naive or queue, got "fast"'],
    [["--mode", "QUEUE"], '--mode must be naive or queue, got "QUEUE"'],
    [["--host="], `${host} ""`],
    [["--host", "a b"], `${host} "a b"`],
  ];
  for (const [args, expected] of cases) {
    await t.step(`rejects ${args.join(" ")}`, async () => {
      await assertUsageError(() => parseServerArgs(args), expected);
    });
  }
});

const SERVER_KEYS =
  "host, port, listener, mode, source, rate, payload_bytes, ping_interval, ping_timeout, static_dir, reuse_port";
const SECTIONS =
  "server, queue_mode, channels, auth, limits, tls, broker, logging, metrics";
const WHOLE = "must be a whole number from";

// deno-fmt-ignore
const BAD_YAML: [name: string, yaml: string, detail: Expected][] = [
  ["unknown key in server", "server:\n  prot: 1\n", `unknown key 'server.prot' (known keys: ${SERVER_KEYS})`],
  ["unknown key in queue_mode", "queue_mode:\n  max_size: 1\n", "unknown key 'queue_mode.max_size' (known keys: maxsize, policy, conflate_key, ladder_down_msgs, ladder_down_ms, ladder_up_ms, ladder_ack_window, ladder_ack_window_bytes, max_queue_bytes, drop_limit, full_timeout, max_lag, batch_ms, lag_interval)"],
  ["unknown key in logging", "logging:\n  level: info\n", "unknown key 'logging.level' (known keys: json, summary_interval)"],
  ["unknown section", "servers:\n  port: 1\n", `unknown section 'servers' (known sections: ${SECTIONS})`],
  ["inherited name as section", "toString: {}\n", `unknown section 'toString' (known sections: ${SECTIONS})`],
  ["section not a mapping", "server: 5\n", `'server' must be a mapping with keys ${SERVER_KEYS}`],
  ["section a list", "logging:\n  - json\n", "'logging' must be a mapping with keys json, summary_interval"],
  ["word for a number", "queue_mode:\n  maxsize: ten\n", `'queue_mode.maxsize' ${WHOLE} 1 to 1000000, got "ten"`],
  ["quoted number", 'server:\n  rate: "100"\n', `'server.rate' must be a number from 0.1 to 100000, got "100" (a string: write the number without quotes)`],
  ["null number", "server:\n  port:\n", `'server.port' ${WHOLE} 0 to 65535, got null`],
  ["boolean number", "queue_mode:\n  drop_limit: true\n", `'queue_mode.drop_limit' ${WHOLE} 0 to 1000000000, got true`],
  ["out of range", "server:\n  port: 70000\n", `'server.port' ${WHOLE} 0 to 65535, got 70000`],
  ["fraction for integer", "server:\n  payload_bytes: 1.5\n", `'server.payload_bytes' ${WHOLE} 0 to 16777216, got 1.5`],
  ["infinite", "logging:\n  summary_interval: .inf\n", "'logging.summary_interval' must be a number from 0.1 to 86400, got Infinity"],
  ["number for mode", "server:\n  mode: 1\n", "'server.mode' must be naive or queue, got 1"],
  ["bad mode", "server:\n  mode: fast\n", `'server.mode' must be naive or queue, got "fast"`],
  ["number for host", "server:\n  host: 1234\n", "'server.host' must be a host name or IP address without spaces, got 1234"],
  ["string for json", "logging:\n  json: yes\n", `'logging.json' must be true or false, got "yes"`],
  ["list top level", "- server\n", `top level must be a mapping with sections ${SECTIONS}`],
  ["scalar top level", "just words\n", `top level must be a mapping with sections ${SECTIONS}`],
  ["duplicate key", "server:\n  port: 1\n  port: 2\n", "invalid YAML at line 3: Map keys must be unique"],
  ["unclosed flow", "server:\n  port: [1\nlogging: {}\n", /invalid YAML at line \d: \S.*$/],
  ["two documents", "server: {}\n---\nlogging: {}\n", "invalid YAML at line 2: Source contains multiple documents"],
];

Deno.test("parseServerArgs() rejects bad YAML with one line naming file and key", async (t) => {
  for (const [name, yaml, detail] of BAD_YAML) {
    await t.step(`rejects ${name}`, async () => {
      await withYaml(yaml, async (path) => {
        const where = `--config ${path}: `;
        const expected = typeof detail === "string"
          ? where + detail
          : new RegExp(`^${where}${detail.source}`);
        await assertUsageError(
          () => parseServerArgs(["--config", path]),
          expected,
        );
      });
    });
  }
});

Deno.test("parseServerArgs() rejects an unreadable --config file", async (t) => {
  await t.step("missing file", async () => {
    const path = await Deno.makeTempFile({ suffix: ".yaml" });
    await Deno.remove(path);
    await assertUsageError(
      () => parseServerArgs(["--config", path]),
      `--config ${path}: cannot read file (No such file or directory)`,
    );
  });
  await t.step("a directory", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await assertUsageError(
        () => parseServerArgs(["--config", dir]),
        new RegExp(`^--config ${dir}: cannot read file \\(.+\\)$`),
      );
    } finally {
      await Deno.remove(dir);
    }
  });
});

Deno.test("parseServerArgs() treats an empty or comment-only YAML file as no overrides", async (t) => {
  const files = { empty: "", comments: "# none\n", sections: "server:\n" };
  for (const [name, text] of Object.entries(files)) {
    await t.step(name, async () => {
      await withYaml(text, async (path) => {
        const config = await configOf(["--config", path]);
        assert.deepEqual(config, { ...SERVER_DEFAULTS, configPath: path });
      });
    });
  }
});

Deno.test("parseServerArgs() accepts subscriber auth with an admin token, or with --open-admin said out loud", async () => {
  const a = await configOf(["--token", "t", "--admin-token", "a"]);
  assert.equal(a.adminToken, "a");
  const b = await configOf(["--jwt-secret", "s", "--open-admin"]);
  assert.equal(b.openAdmin, true);
});

Deno.test("config/default.yaml sets every key to the built-in default", async () => {
  const path = new URL("../config/default.yaml", import.meta.url).pathname;
  const config = await configOf(["--config", path]);
  assert.deepEqual(config, { ...SERVER_DEFAULTS, configPath: path });
  const text = await Deno.readTextFile(path);
  for (const [, line] of BY_YAML) {
    const key = line.split(/[.:]/)[1];
    assert.match(text, new RegExp(`^ *(# )?${key}: `, "m"), `missing ${key}`);
  }
});

Deno.test("parseServerArgs() rejects fields that only work together when given alone", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--source", "http"], /--source http needs --publish-token/],
    [["--cert", "c.pem"], /--cert and --key go together/],
    [["--key", "k.pem"], /--cert and --key go together/],
    [["--policy", "conflate"], /--policy conflate needs --conflate-key/],
    [
      ["--conflate-key", "sym"],
      /--conflate-key has no effect without --policy conflate/,
    ],
    [
      ["--token", "t"],
      /the dashboard, \/events .* and \/metrics would stay open: add --admin-token/,
    ],
    [["--jwt-secret", "s"], /add --admin-token TOKEN \(or --open-admin/],
  ];
  for (const [args, expected] of cases) {
    await t.step(args.join(" "), async () => {
      await assertUsageError(() => parseServerArgs(args), expected);
    });
  }
});

Deno.test("parseServerArgs() rejects bad policies, sources, secrets and origin lists", async (t) => {
  const cases: [string[], string | RegExp][] = [
    [
      ["--policy", "drop-all"],
      '--policy must be drop-oldest or drop-newest or disconnect or conflate or ladder, got "drop-all"',
    ],
    [
      ["--source", "kafka"],
      '--source must be synthetic or stdin or http, got "kafka"',
    ],
    [["--token="], "--token must be a non-empty string, got string"],
    [
      ["--allowed-origins", ","],
      /--allowed-origins must be a list of non-empty strings/,
    ],
    [
      ["--broker", "http://redis:6379"],
      '--broker must be memory, redis://HOST:PORT[/DB] (rediss:// for TLS) or redis+sentinel://HOST:PORT[,HOST:PORT]/NAME[/DB], got "http://redis:6379"',
    ],
    [
      ["--broker", "redis://redis:6379/db?x=1"],
      /--broker must be memory, redis:\/\/HOST:PORT\[\/DB\]/,
    ],
  ];
  for (const [args, expected] of cases) {
    await t.step(args.join(" "), async () => {
      await assertUsageError(() => parseServerArgs(args), expected);
    });
  }
});

Deno.test("parseServerArgs() validates flags and YAML alike, naming each source", async () => {
  const flag = await parseServerArgs(["--maxsize", "0"]).catch((e) => e);
  await withYaml("queue_mode:\n  maxsize: 0\n", async (path) => {
    const yaml = await parseServerArgs(["--config", path]).catch((e) => e);
    const key = `--config ${path}: 'queue_mode.maxsize'`;
    assert.equal(yaml.message, flag.message.replace("--maxsize", key));
  });
});

Deno.test("resolveServerOptions() fills defaults and freezes the result", () => {
  const options = resolveServerOptions({ port: 0, mode: "naive" });
  assert.deepEqual(options, { ...SERVER_DEFAULTS, port: 0, mode: "naive" });
  assert.ok(Object.isFrozen(options));
  assert.deepEqual(resolveServerOptions({}), SERVER_DEFAULTS);
  assert.equal(resolveServerOptions({ configPath: "x" }).configPath, "x");
});

Deno.test("resolveServerOptions() rejects bad values naming the field", async (t) => {
  // deno-fmt-ignore
  const cases: [Record<string, unknown>, Expected][] = [
    [{ rate: 0 }, "ServerOptions.rate must be a number from 0.1 to 100000, got 0"],
    [{ port: "80" }, 'ServerOptions.port must be a whole number from 0 to 65535, got "80" (a string: write the number without quotes)'],
    [{ mode: "fast" }, 'ServerOptions.mode must be naive or queue, got "fast"'],
    [{ logJson: 1 }, "ServerOptions.logJson must be true or false, got 1"],
    [{ configPath: 5 }, "ServerOptions.configPath must be a string, got 5"],
    [{ bogus: 1 }, /^ServerOptions\.bogus does not exist \(fields: host, port, listener, /],
  ];
  for (const [partial, expected] of cases) {
    await t.step(`rejects ${JSON.stringify(partial)}`, async () => {
      const bad = partial as Partial<ServerOptions>;
      await assertUsageError(() => resolveServerOptions(bad), expected);
    });
  }
});

Deno.test("resolveServerConfig() decides every effective value once, in sections that mirror the YAML", () => {
  const config = resolveServerConfig({
    pingInterval: 20,
    pingTimeout: 5,
    fullTimeout: 2.5,
    summaryInterval: 0.5,
    rate: 50,
    maxInboundRate: 0,
    maxQueueBytes: 0,
    cert: "c.pem",
    key: "k.pem",
  });
  assert.deepEqual(Object.keys(config), [
    "server",
    "queueMode",
    "channels",
    "auth",
    "limits",
    "tls",
    "logging",
    "metrics",
    "broker",
    "configPath",
  ]);
  assert.equal(config.server.stallTimeoutMs, 25_000, "interval + timeout, ms");
  assert.equal(config.queueMode.fullTimeoutMs, 2500);
  assert.equal(config.logging.summaryIntervalMs, 500);
  assert.equal(config.limits.maxInboundRate, 200, "0 = twice the rate + 100");
  assert.equal(config.queueMode.maxQueueBytes, Infinity, "0 = no byte bound");
  assert.deepEqual(config.tls, { certFile: "c.pem", keyFile: "k.pem" });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.queueMode));
  const off = resolveServerConfig({ pingInterval: 0, maxInboundRate: 7 });
  assert.equal(off.server.stallTimeoutMs, 0, "no pings: no stall check");
  assert.equal(off.limits.maxInboundRate, 7);
  assert.equal(off.tls, undefined);
});

Deno.test("serverHelp() mentions every flag, the YAML layout and the exit codes", () => {
  const help = serverHelp();
  const flags = BY_FLAG.map(([, flag]) => flag.split(" ")[0]);
  for (const flag of [...flags, "--no-log-json", "--config", "--help", "-h"]) {
    assert.match(help, new RegExp(`(^|\\W)${flag}\\b`), `missing ${flag}`);
  }
  for (const [, line] of BY_YAML) {
    const [section = "", key = ""] = line.split(/[.:]/);
    assert.match(help, new RegExp(`^  ${section}:$`, "m"));
    assert.match(help, new RegExp(`^    (# )?${key}: `, "m"));
  }
  assert.match(help, /--rate N +.*\(default: 100\)/);
  for (const line of help.split("\n")) {
    assert.ok(line.length < 100, `${line.length} columns: ${line}`);
  }
  assert.match(help, /Exit codes:[\s\S]*\n {2}2 /);
});
