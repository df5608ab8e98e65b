/**
 * Whether the Redis engine is up, as one node sees it: both connections
 * ready and no engine-wide fault standing (a command that found one, until
 * a probe clears it). Each outage and each return is reported once; callers
 * may wait for the engine; coming back asks the broker to resync.
 *
 * @module
 */
import type { BrokerStats } from "../core/broker.ts";
import type { EngineFailure } from "./redis_errors.ts";

/** Options of {@link EngineHealth}. */
export interface EngineHealthOptions {
  /** Written here: `up`, `downReason`. */
  readonly stats: BrokerStats;
  /** Told once each time the engine goes away or comes back. */
  readonly onStateChange?: ((up: boolean, reason: string) => void) | undefined;
  /** Called each time the engine is up again after an outage. */
  readonly onBack: () => void;
  /**
   * Called each time the engine goes away (before any of its replies or
   * messages after the outage can arrive): what it lost is checked on its return.
   */
  readonly onAway?: (() => void) | undefined;
}

/** The engine's up/down state and why. */
export class EngineHealth {
  readonly #o: EngineHealthOptions;
  #closed = false;
  #everUp = false;
  /** Whether this outage was reported (once per outage, however many retries fail). */
  #reportedDown = false;
  #fault: EngineFailure | undefined;
  /** Why the connections are not ready, as they last said. */
  #lastError = "not connected yet";
  /** Callers of {@link connected} waiting for the engine. */
  readonly #waiting = new Set<(up: boolean) => void>();

  /** @param options the stats to keep, who to tell */
  constructor(options: EngineHealthOptions) {
    this.#o = options;
    options.stats.up = false;
    options.stats.downReason = this.#lastError;
  }

  /** The engine-wide fault standing, if one is. */
  get fault(): EngineFailure | undefined {
    return this.#fault;
  }

  /** Notes a fault (the first one of an outage is kept as its reason). */
  noteFault(fault: EngineFailure): void {
    this.#fault ??= fault;
  }

  /** A probe succeeded, or the server changed: no fault stands. */
  clearFault(): void {
    this.#fault = undefined;
  }

  /** Why the connections are not ready (their last error). */
  set lastError(reason: string) {
    this.#lastError = reason;
  }

  /**
   * Resolves once the engine is up (true), or after `timeoutMs` (false:
   * the connections keep trying in the background).
   */
  connected(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#o.stats.up) return Promise.resolve(true);
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

  /** Closing: waiters get false, and nothing is reported any more. */
  close(): void {
    this.#closed = true;
    for (const done of [...this.#waiting]) done(false);
  }

  /**
   * Recomputes the state from whether both connections are ready; reports
   * a change once, and resyncs on the way back up.
   */
  update(connectionsReady: boolean): void {
    if (this.#closed) return;
    const stats = this.#o.stats;
    const up = connectionsReady && this.#fault === undefined;
    if (!up) {
      stats.downReason = this.#fault?.reason ??
        (connectionsReady ? "" : this.#lastError);
    }
    if (up === stats.up) return;
    stats.up = up;
    if (!up) {
      this.#o.onAway?.();
      // Reported once per outage, however many retries fail; an engine never
      // reached yet shows in the listening line, /readyz and the summaries.
      if (this.#everUp && !this.#reportedDown) {
        this.#o.onStateChange?.(false, stats.downReason);
      }
      this.#reportedDown = true;
      return;
    }
    stats.downReason = "";
    this.#reportedDown = false;
    for (const done of [...this.#waiting]) done(true);
    // The first connection is not news; coming back after an outage is.
    if (this.#everUp) this.#o.onStateChange?.(true, "");
    this.#everUp = true;
    this.#o.onBack();
  }
}
