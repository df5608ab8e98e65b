/**
 * The server's options as users give them: one field per flag (and YAML
 * key), the built-in defaults, and {@link resolveServerOptions}, which
 * merges defaults < partial, validates every value with the same rules as
 * flags and YAML, and freezes the result.
 *
 * @module
 */
import { UsageError } from "../../lib/cli_args.ts";
import type { SlowPolicy } from "../modes/client_queue.ts";
import type { SourceKind } from "../sources/source_stats.ts";
import { checkField, FIELD_NAMES, type FieldName, FIELDS } from "./fields.ts";

/**
 * Who accepts connections: `guarded` (fanout's own accept loop: survives
 * EMFILE, closes slow handshakes, caps pending connections) or `serve`
 * (Deno.serve's: a few percent less CPU per delivery, no handshake timeout,
 * listens again after EMFILE; only behind a proxy that enforces timeouts).
 */
export type ListenerKind = "guarded" | "serve";

/** How the server broadcasts: wait for each client in turn, or per-client bounded queues. */
export type BroadcastMode = "naive" | "queue";

/**
 * The server's settings as a user gives them (flags, YAML, or in-process
 * options), one field per flag, in the flags' units. Complete, validated and
 * frozen once resolved; {@link import("./config.ts").resolveServerConfig}
 * turns them into the sectioned config the server runs on.
 */
export interface ServerOptions {
  /** Broadcast mode. @default {"queue"} */
  readonly mode: BroadcastMode;
  /** Who accepts connections: fanout's guarded loop, or Deno.serve's (faster, unguarded). @default {"guarded"} */
  readonly listener: ListenerKind;
  /** Interface to listen on; non-empty, no spaces. @default {"0.0.0.0"} */
  readonly host: string;
  /** TCP port, 0..65535; 0 picks a free port. @default {8765} */
  readonly port: number;
  /** Published messages per second, 0.1..100000. @default {100} */
  readonly rate: number;
  /** Random payload bytes per message, 0..16 MiB. @default {64} */
  readonly payloadBytes: number;
  /** Per-client queue length (queue mode), 1..1000000. @default {100} */
  readonly maxsize: number;
  /** Drops within 10 s that disconnect a client (queue mode). @default {50} */
  readonly dropLimit: number;
  /** Seconds a client's queue may stay full before disconnect. @default {5} */
  readonly fullTimeout: number;
  /** Seconds between pings; 0 disables pings. @default {20} */
  readonly pingInterval: number;
  /** Seconds to wait for a pong before disconnecting. @default {20} */
  readonly pingTimeout: number;
  /** Seconds between summary log lines. @default {5} */
  readonly summaryInterval: number;
  /** One JSON object per log line instead of human text. @default {false} */
  readonly logJson: boolean;
  /** Add per-client series to `GET /metrics` (one series per client per metric). @default {false} */
  readonly metricsPerClient: boolean;
  /** Directory whose files are served over HTTP (`--static`). @default {undefined} */
  readonly staticDir: string | undefined;
  /** Where messages come from: random payloads, stdin lines, or `POST /publish`. @default {"synthetic"} */
  readonly source: SourceKind;
  /** What a full client queue does with the next message. @default {"drop-oldest"} */
  readonly policy: SlowPolicy;
  /** JSON field whose value is the conflation key (`--policy conflate`). @default {undefined} */
  readonly conflateKey: string | undefined;
  /** `--policy ladder`: messages behind that move a client a tier down. @default {50} */
  readonly ladderDownMsgs: number;
  /** `--policy ladder`: ms behind that move a client a tier down. @default {500} */
  readonly ladderDownMs: number;
  /** `--policy ladder`: ms of keeping up that move a client a tier up. @default {5000} */
  readonly ladderUpMs: number;
  /** Bytes a client's queue may hold; 0 for no byte bound. @default {0} */
  readonly maxQueueBytes: number;
  /** Milliseconds between flushes of `?batch=1` clients (queue mode), 1..1000. @default {10} */
  readonly batchMs: number;
  /** Seconds between `lag` frames to control clients (queue mode); 0 disables. @default {1} */
  readonly lagInterval: number;
  /** Seconds a client may fall behind (queue mode): the age of the oldest message it has not taken; 0 disables. @default {30} */
  readonly maxLag: number;
  /** Messages kept per channel for `?since=` replay; 0 keeps none. @default {0} */
  readonly history: number;
  /** Channels that may exist at once. @default {1000} */
  readonly maxChannels: number;
  /** Default time to live per channel, `CHANNEL=MS` items (queue mode). @default {[]} */
  readonly channelTtl: readonly string[];
  /** Static subscriber token. @default {undefined} */
  readonly token: string | undefined;
  /** HS256 secret for subscriber JWTs. @default {undefined} */
  readonly jwtSecret: string | undefined;
  /** Token `POST /publish` requires. @default {undefined} */
  readonly publishToken: string | undefined;
  /** Token the dashboard, `/events` and `/metrics` require. @default {undefined} */
  readonly adminToken: string | undefined;
  /** Serve the dashboard, `/events` and `/metrics` without credentials although subscribers need them. @default {false} */
  readonly openAdmin: boolean;
  /** Longest JWT lifetime accepted (exp − now), seconds. @default {86400} */
  readonly jwtMaxLifetime: number;
  /** Subscribers at once. @default {10000} */
  readonly maxClients: number;
  /** Largest frame a client may send, bytes. @default {4096} */
  readonly maxFrameBytes: number;
  /** Client frames per second before throttling; 0 = twice --rate plus 100. @default {0} */
  readonly maxInboundRate: number;
  /** Largest published message (stdin line, `POST /publish` body), bytes. @default {1048576} */
  readonly maxMessageBytes: number;
  /** Seconds a connection may take to complete its request (and TLS handshake). @default {5} */
  readonly handshakeTimeout: number;
  /** Connections waiting for their request at once; at the cap, new ones wait in the kernel backlog. @default {1000} */
  readonly maxPending: number;
  /** `?since=` replays in progress at once; more get 503. @default {100} */
  readonly maxReplays: number;
  /** Dashboard streams (`/events`) at once; more get 503. @default {10} */
  readonly maxDashboards: number;
  /** New subscriber connections per second (token bucket, burst of one second's worth); beyond it 503 with Retry-After; 0 = no limit. @default {0} */
  readonly maxConnectRate: number;
  /** Milliseconds a drain (SIGTERM) spreads its closes (1012 with a retry hint) over. @default {10000} */
  readonly drainMs: number;
  /** Replayed messages per second shared by resuming clients (`?since=`); over it a resume waits its turn (503 with a retry hint); 0 = no limit. @default {0} */
  readonly replayBudget: number;
  /** Browser origins allowed to subscribe; empty allows any. @default {[]} */
  readonly allowedOrigins: readonly string[];
  /** PEM certificate file: serve wss:// and https://. @default {undefined} */
  readonly cert: string | undefined;
  /** PEM private key file for `cert`. @default {undefined} */
  readonly key: string | undefined;
  /** Share the port with other processes (SO_REUSEPORT). @default {false} */
  readonly reusePort: boolean;
  /** `memory` (one process) or a Redis URL (many nodes, one stream). @default {"memory"} */
  readonly broker: string;
  /** A broker command with no reply this long is an outage, ms. @default {1000} */
  readonly brokerTimeoutMs: number;
  /** The `--config` file used, if any. @default {undefined} */
  readonly configPath: string | undefined;
}

/** Every option but `configPath` has exactly one row in the field table. */
type _EveryFieldHasARow = [FieldName] extends
  [Exclude<keyof ServerOptions, "configPath">]
  ? [Exclude<keyof ServerOptions, "configPath">] extends [FieldName] ? true
  : never
  : never;
const _everyFieldHasARow: _EveryFieldHasARow = true;

/** The built-in defaults (the seed's `config/default.yaml`). */
export const SERVER_DEFAULTS: ServerOptions = Object.freeze({
  mode: "queue",
  listener: "guarded",
  host: "0.0.0.0",
  port: 8765,
  rate: 100,
  payloadBytes: 64,
  maxsize: 100,
  dropLimit: 50,
  fullTimeout: 5,
  pingInterval: 20,
  pingTimeout: 20,
  summaryInterval: 5,
  logJson: false,
  metricsPerClient: false,
  staticDir: undefined,
  source: "synthetic",
  policy: "drop-oldest",
  conflateKey: undefined,
  ladderDownMsgs: 50,
  ladderDownMs: 500,
  ladderUpMs: 5000,
  maxQueueBytes: 0,
  batchMs: 10,
  lagInterval: 1,
  maxLag: 30,
  history: 0,
  maxChannels: 1000,
  channelTtl: Object.freeze([]) as readonly string[],
  token: undefined,
  jwtSecret: undefined,
  publishToken: undefined,
  adminToken: undefined,
  openAdmin: false,
  jwtMaxLifetime: 86_400,
  maxClients: 10_000,
  maxFrameBytes: 4096,
  maxInboundRate: 0,
  maxMessageBytes: 1024 * 1024,
  handshakeTimeout: 5,
  maxPending: 1000,
  maxReplays: 100,
  maxDashboards: 10,
  maxConnectRate: 0,
  drainMs: 10_000,
  replayBudget: 0,
  allowedOrigins: Object.freeze([]) as readonly string[],
  cert: undefined,
  key: undefined,
  reusePort: false,
  broker: "memory",
  brokerTimeoutMs: 1000,
  configPath: undefined,
});

/**
 * Resolves options from a partial set: defaults < partial, validated with
 * the same rules as flags and YAML (values must already have their types).
 *
 * @param partial the fields to override; `undefined` fields keep their default
 * @returns complete, frozen options
 * @throws {UsageError} naming the field (`ServerOptions.rate`) when a value is
 *   out of range or of the wrong type, or the field does not exist
 * @example
 * ```ts
 * import { resolveServerOptions } from "./options.ts";
 * const options = resolveServerOptions({ port: 0, mode: "naive" });
 * if (options.rate !== 100 || !Object.isFrozen(options)) throw new Error();
 * ```
 */
export function resolveServerOptions(
  partial: Partial<ServerOptions>,
): ServerOptions {
  const out: Record<string, unknown> = { ...SERVER_DEFAULTS };
  for (const [name, raw] of Object.entries(partial)) {
    const label = `ServerOptions.${name}`;
    if (raw === undefined) continue;
    if (name === "configPath" && typeof raw === "string") out[name] = raw;
    else if (name !== "configPath" && Object.hasOwn(FIELDS, name)) {
      out[name] = checkField(name as FieldName, raw, label, false);
    } else {
      throw new UsageError(
        name === "configPath"
          ? `${label} must be a string, got ${JSON.stringify(raw)}`
          : `${label} does not exist (fields: ${FIELD_NAMES.join(", ")})`,
      );
    }
  }
  checkCombination(out as unknown as ServerOptions);
  return Object.freeze(out) as unknown as ServerOptions;
}

/**
 * `--channel-ttl` items (`CHANNEL=MS`) as a map.
 * @throws {UsageError} naming the bad item
 */
export function channelTtls(items: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    const m = /^([A-Za-z0-9_.:-]{1,64})=(\d+)$/.exec(item);
    const ms = Number(m?.[2]);
    if (!m || !(ms > 0)) {
      throw new UsageError(
        `--channel-ttl items must be CHANNEL=MS with MS a whole number above 0, got ${
          JSON.stringify(item)
        }`,
      );
    }
    out.set(m[1]!, ms);
  }
  return out;
}

/** Rules across fields, checked once everything is merged. */
function checkCombination(c: ServerOptions): void {
  if (c.source === "http" && c.publishToken === undefined) {
    throw new UsageError(
      "--source http needs --publish-token (or auth.publish_token): publishing must be authenticated",
    );
  }
  if (
    (c.token !== undefined || c.jwtSecret !== undefined) &&
    c.adminToken === undefined && !c.openAdmin
  ) {
    throw new UsageError(
      "--token/--jwt-secret protect subscribers, but the dashboard, /events (every client's address) and /metrics would stay open: add --admin-token TOKEN (or --open-admin to serve them to anyone)",
    );
  }
  if ((c.cert === undefined) !== (c.key === undefined)) {
    throw new UsageError(
      "--cert and --key go together: give both to serve wss:// and https://",
    );
  }
  channelTtls(c.channelTtl);
  if (c.policy === "conflate" && c.conflateKey === undefined) {
    throw new UsageError(
      "--policy conflate needs --conflate-key FIELD (the JSON field to conflate on)",
    );
  }
  if (
    c.conflateKey !== undefined && c.policy !== "conflate" &&
    c.policy !== "ladder"
  ) {
    throw new UsageError(
      "--conflate-key has no effect without --policy conflate or ladder",
    );
  }
}
