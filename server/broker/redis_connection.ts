/**
 * The Redis broker's two connections and whether the engine is up: one for
 * commands (publish, join, reads) and one for pub/sub. Both connect in the
 * background and keep retrying; until both are ready the broker is down
 * (publishes get 503, `/readyz` says why). Coming back after an outage is
 * reported once, and the broker is asked to compare what it follows with
 * the engine.
 *
 * @module
 */
import { createClient } from "@redis/client";
import { type BrokerStats, BrokerUnavailableError } from "../core/broker.ts";

/** How long a publisher is told to wait while Redis is unreachable, ms. */
export const RETRY_AFTER_MS = 1_000;

/** A node-redis client as this broker configures it. */
function redisClient(url: string) {
  return createClient({
    url,
    RESP: 2,
    // A command while Redis is away fails at once (the publisher is told
    // 503 and retries) instead of waiting in a queue.
    disableOfflineQueue: true,
    pingInterval: 5_000,
    socket: {
      connectTimeout: 3_000,
      socketTimeout: 15_000,
      reconnectStrategy: (retries: number) => Math.min(100 * retries, 1_000),
    },
  });
}

/** A node-redis client, as {@link redisClient} makes it. */
export type RedisClient = ReturnType<typeof redisClient>;

/** Options of {@link RedisConnection}. */
export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  readonly url: string;
  /** Written here: `up`, `downReason`. */
  readonly stats: BrokerStats;
  /** Told once each time the engine goes away or comes back. */
  readonly onStateChange?: ((up: boolean, reason: string) => void) | undefined;
  /** Called each time both connections are ready again after an outage. */
  readonly onBack: () => void;
}

/** The command and pub/sub connections to one Redis, and the engine's state. */
export class RedisConnection {
  /** The command connection (scripts, reads). */
  readonly client: RedisClient;
  /** The pub/sub connection. */
  readonly sub: RedisClient;
  readonly #stats: BrokerStats;
  readonly #onStateChange: RedisConnectionOptions["onStateChange"];
  readonly #onBack: () => void;
  #closed = false;
  #everUp = false;
  /** Whether this outage was reported (once per outage, however many retries fail). */
  #reportedDown = false;
  /** Callers of {@link connected} waiting for the engine. */
  readonly #waiting = new Set<(up: boolean) => void>();

  /** @param options where Redis is, the stats to keep, who to tell */
  constructor(options: RedisConnectionOptions) {
    this.#stats = options.stats;
    this.#onStateChange = options.onStateChange;
    this.#onBack = options.onBack;
    const client = redisClient(options.url);
    this.client = client;
    // The subscriber keeps its offline queue: its SUBSCRIBEs wait for Redis.
    this.sub = client.duplicate({ disableOfflineQueue: false });
    this.#stats.up = false;
    this.#stats.downReason = "not connected yet";
    for (const [name, c] of [["client", client], ["sub", this.sub]] as const) {
      c.on("error", (err: Error) => this.#down(`${name}: ${err.message}`));
      c.on("ready", () => this.#ready());
      c.connect().catch(() => {});
    }
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.client.isReady;
  }

  /**
   * Resolves once the engine is reachable (true), or after `timeoutMs`
   * (false: the connections keep trying in the background).
   */
  connected(timeoutMs: number): Promise<boolean> {
    if (this.#stats.up) return Promise.resolve(true);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (up: boolean) => {
      clearTimeout(timer);
      this.#waiting.delete(done);
      resolve(up);
    };
    this.#waiting.add(done);
    return promise;
  }

  /** The error a publisher gets while the engine is unreachable. */
  unavailable(): BrokerUnavailableError {
    const reason = this.#stats.downReason;
    return new BrokerUnavailableError(
      `the broker (Redis) is unreachable${
        reason ? `: ${reason}` : ""
      }; retry later`,
      "broker_down",
      RETRY_AFTER_MS,
    );
  }

  /** Closes both connections; waiters of {@link connected} get false. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const done of [...this.#waiting]) done(false);
    await Promise.allSettled([this.sub.close(), this.client.close()]);
  }

  #ready(): void {
    if (!this.client.isReady || !this.sub.isReady || this.#closed) return;
    const stats = this.#stats;
    const wasDown = !stats.up;
    stats.up = true;
    stats.downReason = "";
    if (!wasDown) return;
    this.#reportedDown = false;
    for (const done of [...this.#waiting]) done(true);
    // The first connection is not news; coming back after an outage is.
    if (this.#everUp) this.#onStateChange?.(true, "");
    this.#everUp = true;
    this.#onBack();
  }

  #down(reason: string): void {
    if (this.#closed) return;
    this.#stats.up = false;
    this.#stats.downReason = reason;
    // Reported once per outage, however many retries fail; an engine never
    // reached yet shows in the listening line, /readyz and the summaries.
    if (this.#everUp && !this.#reportedDown) {
      this.#onStateChange?.(false, reason);
    }
    this.#reportedDown = true;
  }
}

/** Errors that mean the connection to Redis is not usable right now. */
export function isConnectionError(err: unknown): boolean {
  const name = (err as Error)?.name ?? "";
  return /Offline|Closed|Socket|Timeout|Disconnect|Connection/i.test(name) ||
    /ECONNREFUSED|ECONNRESET|EPIPE|closed|offline/i.test(
      String((err as Error)?.message),
    );
}
