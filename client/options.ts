/**
 * `fanout clientsim` flags: the seed's flags and defaults, checked once into
 * one frozen {@link ClientsimOptions}.
 *
 * @module
 */
import { checkNumber, parseFlags, UsageError } from "../lib/cli_args.ts";
import { CHANNEL_NAME } from "../lib/protocol.ts";

/** The complete, validated configuration of one clientsim run. */
export interface ClientsimOptions {
  /** Server URL, `ws://` or `wss://`. @default "ws://localhost:8765" */
  readonly url: string;
  /** Simulated subscribers, each with its own connection. @default 1 */
  readonly concurrency: number;
  /** Processing time per message before the next read, ms. @default 0 */
  readonly slowMs: number;
  /** Uniform random ± added to `slowMs` per message, ms. @default 0 */
  readonly jitterMs: number;
  /** How long the run lasts, seconds. @default 30 */
  readonly durationSec: number;
  /** A progress line per client every this many messages. @default 100 */
  readonly printEvery: number;
  /** Client ids are `${idPrefix}-${i}`. @default "cli" */
  readonly idPrefix: string;
  /** Final report as one JSON document on stdout. @default false */
  readonly json: boolean;
  /** Reconnect with `?since=<last seq>` so the server replays what was missed. @default false */
  readonly resume: boolean;
  /** Ask for control frames (drop notices). @default false */
  readonly control: boolean;
  /** Ask for several messages per frame (`?batch=1`; the server's queue mode). @default false */
  readonly batch: boolean;
  /** How long a connection may take to open before the attempt counts as failed, ms. @default 10000 */
  readonly connectTimeoutMs: number;
  /** Print a progress line per client and a table row per client (without it, only totals). @default false */
  readonly perClient: boolean;
}

/** The seed's defaults. */
export const DEFAULT_CLIENTSIM_OPTIONS: Readonly<ClientsimOptions> = Object
  .freeze({
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

/** Most simultaneous connections one clientsim process opens. */
export const MAX_CONCURRENCY = 20_000;
/** Largest `--slow-ms` / `--jitter-ms`, ms (10 minutes). */
export const MAX_DELAY_MS = 600_000;
/** Largest `--print-every`. */
export const MAX_PRINT_EVERY = 1_000_000_000;
/** Longest `--duration`, seconds (one day). */
export const MAX_DURATION_SEC = 86_400;

const FLAGS = {
  url: { type: "string" },
  concurrency: { type: "string" },
  "slow-ms": { type: "string" },
  "jitter-ms": { type: "string" },
  duration: { type: "string" },
  "print-every": { type: "string" },
  "id-prefix": { type: "string" },
  json: { type: "boolean" },
  channel: { type: "string" },
  token: { type: "string" },
  resume: { type: "boolean" },
  control: { type: "boolean" },
  batch: { type: "boolean" },
  "connect-timeout": { type: "string" },
  "per-client": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Result of {@link parseClientsimArgs}: help requested, or options to run. */
export type ParsedClientsimArgs =
  | { help: true }
  | { help: false; options: ClientsimOptions };

/**
 * Parses `fanout clientsim` arguments.
 *
 * @param args the arguments after the subcommand
 * @returns `{help: true}` for `--help`/`-h`, otherwise the frozen options
 * @throws {UsageError} one line naming the bad flag and the fix
 * @example
 * ```ts
 * import { parseClientsimArgs } from "./options.ts";
 * const parsed = parseClientsimArgs(["--concurrency", "3", "--slow-ms", "200"]);
 * if (parsed.help || parsed.options.concurrency !== 3) throw new Error();
 * ```
 */
export function parseClientsimArgs(
  args: readonly string[],
): ParsedClientsimArgs {
  const v = parseFlags("clientsim", args, FLAGS);
  if (v.help === true) return { help: true };
  const d = DEFAULT_CLIENTSIM_OPTIONS;
  const str = (key: string): string | undefined =>
    typeof v[key] === "string" ? v[key] : undefined;
  const num = (
    key: string,
    fallback: number,
    min: number,
    max: number,
    integer = false,
  ): number => {
    const raw = str(key);
    return raw === undefined
      ? fallback
      : checkNumber(`--${key}`, raw, min, max, { integer });
  };
  const options: ClientsimOptions = {
    url: withQuery(checkUrl(str("url") ?? d.url), str("channel"), str("token")),
    concurrency: num("concurrency", d.concurrency, 1, MAX_CONCURRENCY, true),
    slowMs: num("slow-ms", d.slowMs, 0, MAX_DELAY_MS),
    jitterMs: num("jitter-ms", d.jitterMs, 0, MAX_DELAY_MS),
    durationSec: num("duration", d.durationSec, 0.1, MAX_DURATION_SEC),
    printEvery: num(
      "print-every",
      d.printEvery,
      1,
      MAX_PRINT_EVERY,
      true,
    ),
    idPrefix: checkIdPrefix(str("id-prefix") ?? d.idPrefix),
    json: v.json === true,
    resume: v.resume === true,
    control: v.control === true,
    batch: v.batch === true,
    connectTimeoutMs: num(
      "connect-timeout",
      d.connectTimeoutMs,
      100,
      MAX_DELAY_MS,
    ),
    perClient: v["per-client"] === true,
  };
  return { help: false, options: Object.freeze(options) };
}

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(
      `--url must be a ws:// or wss:// URL such as ws://localhost:8765, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new UsageError(
      `--url must start with ws:// or wss://, got ${JSON.stringify(raw)}`,
    );
  }
  return raw;
}

/** Adds `?channel=` and `?token=` to the URL when given. */
function withQuery(url: string, channel?: string, token?: string): string {
  if (channel === undefined && token === undefined) return url;
  if (channel !== undefined && !CHANNEL_NAME.test(channel)) {
    throw new UsageError(
      `--channel must be 1 to 64 of A-Z a-z 0-9 _ - . :, got ${
        JSON.stringify(channel)
      }`,
    );
  }
  const u = new URL(url);
  if (channel !== undefined) u.searchParams.set("channel", channel);
  if (token !== undefined) u.searchParams.set("token", token);
  return u.href;
}

function checkIdPrefix(raw: string): string {
  if (!/^[\w.:-]{1,64}$/.test(raw)) {
    throw new UsageError(
      `--id-prefix must be 1 to 64 letters, digits or _.:- characters, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  return raw;
}

/** The `fanout clientsim --help` text. */
export function clientsimHelp(): string {
  const d = DEFAULT_CLIENTSIM_OPTIONS;
  return `fanout clientsim — simulated subscribers that measure latency, drops and disconnects

Usage: fanout clientsim [options]

Options:
  --url URL            server WebSocket URL, ws:// or wss:// (default: ${d.url})
  --concurrency N      connections, 1..${MAX_CONCURRENCY} (default: ${d.concurrency})
  --slow-ms MS         processing time per message before reading the next;
                       a slow client really stops reading its socket (default: ${d.slowMs})
  --jitter-ms MS       random ± added to --slow-ms per message (default: ${d.jitterMs})
  --duration SECS      run time, 0.1..${MAX_DURATION_SEC} (default: ${d.durationSec})
  --per-client         print a progress line per client every --print-every messages
                       and a table row per client (without it: totals only)
  --print-every N      with --per-client, a line every N messages (default: ${d.printEvery})
  --connect-timeout MS a connection that has not opened after MS fails the attempt
                       (counted, and retried with backoff) (default: ${d.connectTimeoutMs})
  --id-prefix PREFIX   client ids are PREFIX-0, PREFIX-1, … (default: "${d.idPrefix}")
  --json               final report as one JSON document on stdout; progress on stderr
  --channel NAME       subscribe to this channel (adds ?channel= to the URL)
  --token TOKEN        subscriber token or JWT (adds ?token= to the URL)
  --resume             reconnect with ?since=<last seq>: the server replays what was missed
  --control            ask for control frames (drop notices) with ?control=1
  --batch              ask for several messages per frame with ?batch=1 (a JSON
                       array every --batch-ms of the server); each message counts,
                       one ACK per frame (for its last message)
  -h, --help           show this help

Each client ACKs every frame ({"ack_ts", "seq"}), infers drops from seq gaps,
records close codes and reasons (4000-4099: closed for being slow) and
reconnects with exponential backoff (250 ms doubling to 5 s), except after a
terminal close (4100-4199, 1009); a close whose reason ends in retry_in_ms=N
waits N ms (plus up to a quarter more) instead. Why a connection failed
(refused, 401, 403, 503, TLS, connect timeout…) is printed once per distinct
reason, with how many attempts failed so. The token never appears in any
output. Exit status: 0 when every client asked for connected; 1 when some
never did (the report says how many, and why). Ctrl-C stops early and still
prints the report.`;
}
