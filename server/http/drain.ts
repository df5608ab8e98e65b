/**
 * A graceful drain, so a rolling deploy moves clients gradually: once
 * started the node takes no new subscriber (503, `/readyz` not ready) and
 * closes the connected ones with 1012 (`drain`) in batches spread over the
 * drain time — each close's reason ends with a spread `retry_in_ms` hint
 * (the sink's pacer adds it) — so they reconnect elsewhere a few at a time.
 *
 * @module
 */
import type { Session } from "../core/session.ts";

/** Time between two batches of a drain, ms. */
export const DRAIN_TICK_MS = 100;

/** The reason drained clients are sent (the hint follows it). */
export const DRAIN_REASON = "server draining (restart or deploy)";

/** What a drain closes: the hub's sessions. */
export interface DrainTarget {
  /** The sessions now open. */
  readonly sessions: Iterable<Session>;
  /** Closes `session` for `reason` (the hub). */
  close(session: Session, reason: "drain", detail: string): void;
}

/** Timing of a {@link Drain}; injectable for tests. */
export interface DrainOptions {
  /** Time between batches, ms. @default {@link DRAIN_TICK_MS} */
  readonly tickMs?: number;
  /** Waits `ms`. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * One node's drain: {@link start} once; {@link draining} from then on.
 *
 * @example
 * ```ts ignore
 * const drain = new Drain(hub);
 * await drain.start(10_000); // every client closed with 1012, in batches
 * ```
 */
export class Drain {
  readonly #target: DrainTarget;
  readonly #tickMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  #done: Promise<void> | undefined;
  #finishNow = false;

  /** @param target whose sessions to close @param options timing */
  constructor(target: DrainTarget, options: DrainOptions = {}) {
    this.#target = target;
    this.#tickMs = options.tickMs ?? DRAIN_TICK_MS;
    this.#sleep = options.sleep ??
      ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Whether a drain has started: refuse new subscribers, report not ready. */
  get draining(): boolean {
    return this.#done !== undefined;
  }

  /**
   * Starts the drain (later calls return the same promise): every tick
   * closes `ceil(open / ticks left)` sessions, so the last closes as
   * `drainMs` ends.
   * @param drainMs how long to spread the closes over, ms (0: all at once)
   * @returns resolves once every session open at the start (or since) is closed
   */
  start(drainMs: number): Promise<void> {
    this.#done ??= this.#run(drainMs);
    return this.#done;
  }

  /** Closes everything left at the next tick (a second SIGTERM). */
  finishNow(): void {
    this.#finishNow = true;
  }

  async #run(drainMs: number): Promise<void> {
    const ticks = Math.max(1, Math.ceil(drainMs / this.#tickMs));
    for (let tick = 0;; tick++) {
      const open = [...this.#target.sessions].filter((s) => !s.closed);
      if (open.length === 0) return;
      const left = Math.max(1, ticks - tick);
      const batch = this.#finishNow
        ? open.length
        : Math.ceil(open.length / left);
      for (const session of open.slice(0, batch)) {
        this.#target.close(session, "drain", DRAIN_REASON);
      }
      if (batch === open.length) return;
      await this.#sleep(this.#tickMs);
    }
  }
}
