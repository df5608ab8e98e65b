/**
 * Closing a client without breaking its connection while messages flow:
 * Deno drops a WebSocket that receives a frame while it is closing (the
 * peer sees 1006 and never reads the close reason), and a client that ACKs
 * always has an ACK on its way while it is being sent messages. So the
 * client is first quiesced (nothing more is sent to it), then closed once
 * it has ACKed the latest frame it was sent — or once no ACK has come from
 * it for {@link QUIET_CLOSE_STALL_MS} (a client that does not ACK every
 * frame), and after {@link QUIET_CLOSE_MAX_WAIT_MS} at most (ACKs still
 * arriving: a client seconds behind on a busy machine). A client that never
 * sent anything (no ACKs to wait for) is closed at once.
 *
 * @module
 */
import type { Session } from "../core/session.ts";

/** A quiesced client from which nothing came for this long is closed, ms. */
export const QUIET_CLOSE_STALL_MS = 1000;
/** Longest wait for a quiesced client's ACKs, however they progress, ms. */
export const QUIET_CLOSE_MAX_WAIT_MS = 5000;
/** How often the quiesced clients' ACKs are looked at, ms. */
export const QUIET_CLOSE_POLL_MS = 10;

/** Options of {@link QuietCloser}. */
export interface QuietCloserOptions {
  /** See {@link QUIET_CLOSE_STALL_MS}. @default QUIET_CLOSE_STALL_MS */
  readonly stallMs?: number;
  /** See {@link QUIET_CLOSE_MAX_WAIT_MS}. @default QUIET_CLOSE_MAX_WAIT_MS */
  readonly maxWaitMs?: number;
  /** See {@link QUIET_CLOSE_POLL_MS}. @default QUIET_CLOSE_POLL_MS */
  readonly pollMs?: number;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
  /** Waits `ms`. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Waiting {
  readonly deadline: number;
  /** Frames received from the client as of {@link progressAt}. */
  received: number;
  /** When the client last sent anything (or was quiesced), ms. */
  progressAt: number;
  readonly closed: Promise<void>;
  readonly resolve: () => void;
}

/**
 * Quiesces sessions and closes each once its ACKs have caught up; one poll
 * loop serves every session waiting.
 *
 * @example
 * ```ts ignore
 * const closer = new QuietCloser((s) => hub.close(s, "drain", DRAIN_REASON));
 * await closer.close(session); // closed once its last ACK came in
 * ```
 */
export class QuietCloser {
  readonly #close: (session: Session) => void;
  readonly #stallMs: number;
  readonly #maxWaitMs: number;
  readonly #pollMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #waiting = new Map<Session, Waiting>();
  #polling = false;

  /**
   * @param close closes a session (the hub's close, with its code and reason)
   * @param options bounds, clock and sleep
   */
  constructor(
    close: (session: Session) => void,
    options: QuietCloserOptions = {},
  ) {
    this.#close = close;
    this.#stallMs = options.stallMs ?? QUIET_CLOSE_STALL_MS;
    this.#maxWaitMs = options.maxWaitMs ?? QUIET_CLOSE_MAX_WAIT_MS;
    this.#pollMs = options.pollMs ?? QUIET_CLOSE_POLL_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#sleep = options.sleep ??
      ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Whether `session` is quiesced and waiting for its close. */
  has(session: Session): boolean {
    return this.#waiting.has(session);
  }

  /** Sessions quiesced and not yet closed. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Quiesces `session` and closes it now when it owes no ACK, else once it
   * does not or the wait ends (a session already waiting keeps its wait).
   * @returns resolves once the session is closed (by this or otherwise)
   */
  close(session: Session): Promise<void> {
    const waiting = this.#waiting.get(session);
    if (waiting) return waiting.closed;
    if (session.closed) return Promise.resolve();
    session.quiesce();
    if (!session.awaitsAck) {
      this.#close(session);
      return Promise.resolve();
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    const now = this.#now();
    this.#waiting.set(session, {
      deadline: now + this.#maxWaitMs,
      received: session.stats.received,
      progressAt: now,
      closed: promise,
      resolve,
    });
    if (!this.#polling) this.#poll();
    return promise;
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      while (this.#waiting.size > 0) {
        await this.#sleep(this.#pollMs);
        const now = this.#now();
        for (const [session, waiting] of this.#waiting) {
          const received = session.stats.received;
          if (received !== waiting.received) {
            waiting.received = received;
            waiting.progressAt = now;
          }
          if (
            session.closed || !session.awaitsAck || now >= waiting.deadline ||
            now - waiting.progressAt >= this.#stallMs
          ) {
            this.#waiting.delete(session);
            if (!session.closed) this.#close(session);
            waiting.resolve();
          }
        }
      }
    } finally {
      this.#polling = false;
    }
  }
}
