/**
 * A cut client learns why: the SDK names itself with `?client=<id>`, the
 * node remembers how it ended each client's last session when the server
 * ended it (code, reason, when), and the next session of that id gets a
 * `last_close` control frame right after `position`. A browser whose close
 * frame was lost behind a full socket (it saw 1006) is told on its next
 * connection. Bounded: the oldest entries go first, and old ones expire.
 *
 * @module
 */
import type { DisconnectReason } from "../../lib/close_codes.ts";
import { type ControlFrame, encodeControl } from "../../lib/protocol.ts";

/** A client id: 1–64 of `A-Z a-z 0-9 _ -`. */
export const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Most clients remembered per node. */
export const MAX_REMEMBERED = 10_000;
/** How long a close is remembered, ms. */
export const REMEMBER_MS = 10 * 60_000;

/** Ends the client chose or that just happened: nothing to explain. */
const NOT_THE_SERVERS: ReadonlySet<DisconnectReason> = new Set([
  "client_closed",
  "connection_lost",
]);

/** What is remembered of a close. */
interface Remembered {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

/**
 * The `?client=` of a subscriber's URL.
 * @returns the id, or undefined when absent or not a valid id (ignored, never refused)
 */
export function clientIdOf(url: URL): string | undefined {
  const id = url.searchParams.get("client");
  return id !== null && CLIENT_ID.test(id) ? id : undefined;
}

/**
 * The last server-made close of each client id, bounded.
 *
 * @example
 * ```ts
 * import { LastCloses } from "./last_close.ts";
 * const closes = new LastCloses({ now: () => 1000 });
 * closes.record("c1", { reason: "slow_drops", code: 4000, detail: "too slow" });
 * const frame = closes.take("c1", "default");
 * if (!frame?.includes('"last_close"') || closes.take("c1", "default")) throw new Error();
 * ```
 */
export class LastCloses {
  readonly #closes = new Map<string, Remembered>();
  /** Open sessions' client ids, by session id. */
  readonly #ids = new Map<string, string>();
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  /** @param options capacity, time to live and clock (epoch ms) */
  constructor(
    options: { max?: number; ttlMs?: number; now?: () => number } = {},
  ) {
    this.#max = options.max ?? MAX_REMEMBERED;
    this.#ttlMs = options.ttlMs ?? REMEMBER_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Names the session `sessionId` as client `clientId` until it ends.
   */
  bind(sessionId: string, clientId: string): void {
    this.#ids.set(sessionId, clientId);
  }

  /**
   * Records the end of session `sessionId` (a hub `disconnect` event),
   * under its client id if it had one.
   */
  ended(
    sessionId: string,
    end: { reason: DisconnectReason; code: number; detail: string },
  ): void {
    const id = this.#ids.get(sessionId);
    if (id === undefined) return;
    this.#ids.delete(sessionId);
    this.record(id, end);
  }

  /** Entries held. */
  get size(): number {
    return this.#closes.size;
  }

  /**
   * Remembers how the server ended `id`'s session (ends the client made,
   * or a lost connection, are not remembered).
   */
  record(
    id: string,
    end: { reason: DisconnectReason; code: number; detail: string },
  ): void {
    if (NOT_THE_SERVERS.has(end.reason)) return;
    this.#closes.delete(id);
    this.#closes.set(id, {
      code: end.code,
      reason: end.detail,
      at: this.#now(),
    });
    while (this.#closes.size > this.#max) {
      this.#closes.delete(this.#closes.keys().next().value!);
    }
  }

  /**
   * Takes (and forgets) what is remembered for `id`.
   * @returns the encoded `last_close` frame, or undefined
   */
  take(id: string, channel: string): string | undefined {
    const last = this.#closes.get(id);
    if (!last) return undefined;
    this.#closes.delete(id);
    if (this.#now() - last.at > this.#ttlMs) return undefined;
    const frame: ControlFrame = { type: "last_close", channel, ...last };
    return encodeControl(frame);
  }
}
