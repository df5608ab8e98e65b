/**
 * A graceful drain, so a rolling deploy moves clients gradually: once
 * started the node takes no new subscriber (503, `/readyz` not ready) and
 * closes the connected ones with 1012 (`drain`) in batches spread over the
 * drain time — each close's reason ends with a spread `retry_in_ms` hint
 * (the sink's pacer adds it) — so they reconnect elsewhere a few at a time.
 * Messages still flow meanwhile, so each client is quiesced first and closed
 * once its ACKs have caught up (`quiet_close.ts`): a client that ACKs sees
 * its 1012, not a connection Deno dropped for an ACK that crossed the close.
 *
 * @module
 */
import type { Session } from "../core/session.ts";
import { QuietCloser, type QuietCloserOptions } from "./quiet_close.ts";

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
  /** How each client's ACKs are waited for before its close. @default QuietCloser's defaults */
  readonly quiet?: QuietCloserOptions;
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
  readonly #closer: QuietCloser;
  #done: Promise<void> | undefined;
  #finishNow = false;

  /** @param target whose sessions to close @param options timing */
  constructor(target: DrainTarget, options: DrainOptions = {}) {
    this.#target = target;
    this.#tickMs = options.tickMs ?? DRAIN_TICK_MS;
    this.#sleep = options.sleep ??
      ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#closer = new QuietCloser(
      (session) => target.close(session, "drain", DRAIN_REASON),
      options.quiet,
    );
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

  /**
   * Closes everything left at the next tick (a second SIGTERM): each client
   * still once its ACKs caught up, all of them at once.
   */
  finishNow(): void {
    this.#finishNow = true;
  }

  async #run(drainMs: number): Promise<void> {
    const ticks = Math.max(1, Math.ceil(drainMs / this.#tickMs));
    const closing: Promise<void>[] = [];
    for (let tick = 0;; tick++) {
      const open = [...this.#target.sessions].filter((s) =>
        !s.closed && !this.#closer.has(s)
      );
      const left = Math.max(1, ticks - tick);
      const batch = this.#finishNow
        ? open.length
        : Math.ceil(open.length / left);
      for (const session of open.slice(0, batch)) {
        closing.push(this.#closer.close(session));
      }
      if (batch === open.length) break;
      await this.#sleep(this.#tickMs);
    }
    await Promise.all(closing);
  }
}
