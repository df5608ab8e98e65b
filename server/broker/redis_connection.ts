/**
 * The Redis broker's two connections and whether the engine is up: one for
 * commands (publish, join, reads) and one for pub/sub. Both connect in the
 * background and keep retrying. The engine is up only while both are ready
 * and no fault stands: a command that fails with an engine-wide fault (no
 * reply within `--broker-timeout-ms`, READONLY, OOM, LOADING, a dropped
 * connection; see `redis_errors.ts`) marks it down at once, and a watchdog
 * probe clears it again (a PING every half timeout, or a small write while
 * the fault is one that refuses writes). Down, publishes get 503 without
 * being sent and `/readyz` says why; coming back is reported once and the
 * broker compares what it follows with the engine.
 *
 * With a `redis+sentinel://` URL the primary is looked up through Sentinel
 * (`redis_sentinel.ts`) and again every second; when it moves, both
 * connections are replaced by ones to the new primary: an outage, then the
 * same resync as after any other.
 *
 * @module
 */
import { type BrokerStats, BrokerUnavailableError } from "../core/broker.ts";
import { type RedisClient, redisClient } from "./redis_client.ts";
import { withDeadline } from "./redis_deadline.ts";
import { classifyEngineError } from "./redis_errors.ts";
import { EngineHealth } from "./redis_health.ts";
import { MasterResolver, parseSentinelUrl } from "./redis_sentinel.ts";
import { RedisSubscriber } from "./redis_subscriber.ts";

/** How long a publisher is told to wait while Redis is unreachable, ms. */
export const RETRY_AFTER_MS = 1_000;
/** `--broker-timeout-ms`: a command with no reply this long is an outage, ms. */
export const DEFAULT_BROKER_TIMEOUT_MS = 1_000;

/** Where no server is known yet (Sentinel not asked yet): never connected. */
const NOWHERE = "redis://127.0.0.1:1";

/** Options of {@link RedisConnection}. */
export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]`, or `redis+sentinel://host:port[,host:port]/NAME[/DB]`. */
  readonly url: string;
  /** Written here: `up`, `downReason`. */
  readonly stats: BrokerStats;
  /** A command with no reply within this is an outage, ms. @default DEFAULT_BROKER_TIMEOUT_MS */
  readonly timeoutMs?: number | undefined;
  /** The key the write probe sets while writes are refused. @default "fanout:probe" */
  readonly probeKey?: string | undefined;
  /** Told once each time the engine goes away or comes back. */
  readonly onStateChange?: ((up: boolean, reason: string) => void) | undefined;
  /** Called each time the engine is up again after an outage. */
  readonly onBack: () => void;
  /**
   * Called each time the engine goes away (before any of its replies or
   * messages after the outage can arrive): what it lost is checked on its return.
   */
  readonly onAway?: (() => void) | undefined;
  /**
   * With Sentinel: how often to ask where the primary is besides the
   * `+switch-master` announcements, ms. @default SENTINEL_POLL_MS
   */
  readonly sentinelPollMs?: number | undefined;
}

/** How often Sentinel is asked where the primary is, besides its announcements, ms. */
export const SENTINEL_POLL_MS = 1_000;

/** The command and pub/sub connections to one Redis, and the engine's state. */
export class RedisConnection {
  #client: RedisClient;
  /** The command client with the command timeout on every command. */
  #commands: RedisClient;
  #sub: RedisClient;
  /** The subscriptions, moved along when the connections are replaced. */
  readonly #subscriber: RedisSubscriber;
  /** The server connected to (the primary Sentinel named last). */
  #url: string;
  readonly #resolver: MasterResolver | undefined;
  #resolving = false;
  /** A lookup was asked for while one ran. */
  #followAgain = false;
  readonly #health: EngineHealth;
  readonly #stats: BrokerStats;
  readonly #timeoutMs: number;
  readonly #probeKey: string;
  readonly #watchdog: ReturnType<typeof setInterval>;
  readonly #lookup: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #probing = false;

  /** @param options where Redis is, the stats to keep, who to tell */
  constructor(options: RedisConnectionOptions) {
    this.#stats = options.stats;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_BROKER_TIMEOUT_MS;
    this.#probeKey = options.probeKey ?? "fanout:probe";
    this.#health = new EngineHealth(options);
    const sentinel = parseSentinelUrl(options.url);
    this.#resolver = sentinel && new MasterResolver(sentinel, this.#timeoutMs);
    this.#url = sentinel ? NOWHERE : options.url;
    [this.#client, this.#commands, this.#sub] = this.#open(
      this.#url,
      !sentinel,
    );
    this.#subscriber = new RedisSubscriber(this.#sub);
    this.#watchdog = setInterval(
      () => void this.#probe(),
      Math.max(25, this.#timeoutMs / 2),
    );
    if (this.#resolver) {
      this.#health.lastError = "asking Sentinel where the primary is";
      void this.#follow();
      this.#lookup = setInterval(
        () => void this.#follow(),
        options.sentinelPollMs ?? SENTINEL_POLL_MS,
      );
    }
  }

  /** Creates (and, with `connect`, connects) the two connections to `url`. */
  #open(
    url: string,
    connect: boolean,
  ): [RedisClient, RedisClient, RedisClient] {
    const client = redisClient(url, this.#timeoutMs);
    const commands = withDeadline(client, this.#timeoutMs);
    // The subscriber keeps its offline queue: its SUBSCRIBEs wait for Redis.
    const sub = client.duplicate({
      disableOfflineQueue: false,
      pingInterval: 5_000,
    });
    for (const [name, c] of [["client", client], ["sub", sub]] as const) {
      // Events of connections already replaced are not news.
      const current = () => c === this.#client || c === this.#sub;
      c.on("error", (err: Error) => {
        if (!current()) return;
        this.#health.lastError = `${name}: ${err.message}`;
        this.#update();
      });
      for (const event of ["ready", "end", "reconnecting"]) {
        c.on(event, () => current() && this.#update());
      }
      if (connect) c.connect().catch(() => {});
    }
    return [client, commands, sub];
  }

  /**
   * Asks Sentinel where the primary is; when it moved (or on the first
   * answer), replaces both connections: the engine is down until the new
   * ones are ready, then resyncs like after any outage. Runs on a
   * sentinel's `+switch-master` and every {@link SENTINEL_POLL_MS}; one at
   * a time (a call while one runs asks again once it is done, so an
   * announcement that comes during a lookup is not lost).
   */
  async #follow(): Promise<void> {
    if (this.#closed || !this.#resolver) return;
    if (this.#resolving) {
      this.#followAgain = true;
      return;
    }
    this.#resolving = true;
    try {
      const url = await this.#resolver.resolve();
      void this.#resolver.watch(() => void this.#follow());
      if (url === undefined) {
        if (this.#url === NOWHERE) {
          this.#health.lastError = "no Sentinel answered where the primary is";
          this.#update();
        }
        return;
      }
      if (url === this.#url || this.#closed) return;
      const old = [this.#client, this.#sub];
      const moved = this.#url !== NOWHERE;
      this.#url = url;
      [this.#client, this.#commands, this.#sub] = this.#open(url, true);
      this.#subscriber.replace(this.#sub);
      // Faults were the old primary's; the new one is probed afresh.
      this.#health.clearFault();
      this.#health.lastError = moved
        ? `failover: the primary moved to ${new URL(url).host}`
        : "connecting to the primary";
      this.#update();
      for (const c of old) {
        try {
          c.destroy();
        } catch { /* never connected, or already closed */ }
      }
    } finally {
      this.#resolving = false;
      if (this.#followAgain) {
        this.#followAgain = false;
        void this.#follow();
      }
    }
  }

  /** The command connection (scripts, reads); every command times out after `--broker-timeout-ms`. */
  get client(): RedisClient {
    return this.#commands;
  }

  /** The pub/sub connection: SUBSCRIBE and UNSUBSCRIBE, kept across a failover. */
  get sub(): RedisSubscriber {
    return this.#subscriber;
  }

  /** Whether commands may be sent now (both connections ready, no fault). */
  get ready(): boolean {
    return !this.#closed && this.#client.isReady && this.#sub.isReady &&
      this.#health.fault === undefined;
  }

  /**
   * Resolves once the engine is reachable (true), or after `timeoutMs`
   * (false: the connections keep trying in the background).
   */
  connected(timeoutMs: number): Promise<boolean> {
    return this.#health.connected(timeoutMs);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The error a publisher gets while the engine is down (nothing was sent). */
  unavailable(): BrokerUnavailableError {
    const reason = this.#stats.downReason;
    return new BrokerUnavailableError(
      `the broker (Redis) is unreachable${
        reason ? `: ${reason}` : ""
      }; retry later`,
      "broker_down",
      RETRY_AFTER_MS,
      false,
    );
  }

  /**
   * A command failed: classifies the error (`redis_errors.ts`), marks the
   * engine down when the fault is engine-wide, and returns what the caller
   * is told — always a {@link BrokerUnavailableError}, with `stored` saying
   * whether the command may have run anyway.
   */
  failed(err: unknown): BrokerUnavailableError {
    const failure = classifyEngineError(err);
    if (failure.outage && !this.#closed) {
      this.#health.noteFault(failure);
      this.#update();
    }
    return new BrokerUnavailableError(
      `the broker (Redis) is unreachable: ${failure.reason}; retry later`,
      "broker_down",
      RETRY_AFTER_MS,
      failure.stored,
    );
  }

  /**
   * Closes both connections, within about one command timeout even while
   * Redis does not answer (then they are dropped); waiters of
   * {@link connected} get false.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#watchdog);
    clearInterval(this.#lookup);
    this.#resolver?.close();
    this.#health.close();
    const clients = [this.#sub, this.#client];
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(clients.map((c) => c.close())),
      new Promise((resolve) => timer = setTimeout(resolve, this.#timeoutMs)),
    ]);
    clearTimeout(timer);
    for (const c of clients) {
      try {
        c.destroy();
      } catch { /* already closed */ }
    }
  }

  /**
   * The watchdog: a PING (or, while writes are refused, a small write)
   * within the command timeout. Failing marks the engine down; succeeding
   * clears the fault.
   */
  async #probe(): Promise<void> {
    if (this.#probing || this.#closed || !this.#client.isReady) return;
    this.#probing = true;
    try {
      const fault = this.#health.fault?.fault;
      if (fault === "readonly" || fault === "oom") {
        await this.#commands.set(this.#probeKey, "1", {
          expiration: { type: "PX", value: 10_000 },
        });
      } else await this.#commands.ping();
      if (this.#health.fault) {
        this.#health.clearFault();
        this.#update();
      }
    } catch (err) {
      this.failed(err);
    } finally {
      this.#probing = false;
    }
  }

  /** Recomputes whether the engine is up; reports and resyncs on a change. */
  #update(): void {
    this.#health.update(this.#client.isReady && this.#sub.isReady);
  }
}

/** Errors that mean the connection to Redis is not usable right now. */
export function isConnectionError(err: unknown): boolean {
  const fault = classifyEngineError(err).fault;
  return fault === "connection" || fault === "timeout";
}
