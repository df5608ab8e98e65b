/**
 * The hub's channel membership: how many local sessions (and holds) each
 * channel has. The one count there is: the broker follows a channel while
 * it is above 0 (subscribed by the first, unsubscribed after the last) and
 * the mode is told when it falls to 0; neither keeps a count of its own.
 *
 * @module
 */
import type { Broker } from "./broker.ts";
import type { Mode } from "./mode.ts";

/** Local interest per channel, and what follows it. */
export class ChannelCounts {
  readonly #counts = new Map<string, number>();
  readonly #broker: Broker;
  readonly #mode: Mode;

  /** @param broker subscribed and unsubscribed as channels come and go @param mode told when a channel is gone */
  constructor(broker: Broker, mode: Mode) {
    this.#broker = broker;
    this.#mode = mode;
  }

  /** Whether `channel` has local interest now. */
  has(channel: string): boolean {
    return this.#counts.has(channel);
  }

  /**
   * One more local interest in `channel`; the first subscribes the broker.
   * @throws {import("./broker.ts").BrokerUnavailableError} before anything
   *   is counted when the channel cannot be opened
   */
  join(channel: string): void {
    const local = this.#counts.get(channel) ?? 0;
    if (local === 0) this.#broker.subscribe(channel).catch(() => {});
    this.#counts.set(channel, local + 1);
  }

  /** One less local interest in `channel`; the last releases it in the mode and unsubscribes the broker. */
  leave(channel: string): void {
    const local = (this.#counts.get(channel) ?? 1) - 1;
    if (local > 0) this.#counts.set(channel, local);
    else {
      this.#counts.delete(channel);
      this.#mode.release(channel);
      this.#broker.unsubscribe(channel);
    }
  }

  /**
   * Holds `channel` open until the returned function is called. Never throws.
   * @returns the release function (idempotent), or undefined when the
   *   channel cannot be opened now
   */
  hold(channel: string): (() => void) | undefined {
    try {
      this.join(channel);
    } catch {
      return undefined;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.leave(channel);
    };
  }
}
