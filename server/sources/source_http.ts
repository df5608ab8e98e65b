/**
 * The HTTP source (`--source http`): messages arrive in `POST /publish`
 * requests, which the HTTP edge (`http/publish.ts`) reads and checks, then
 * hands here. This source publishes them to the broker and is the only
 * writer of its statistics.
 *
 * @module
 */
import {
  type Broker,
  BrokerUnavailableError,
  type Published,
} from "../core/broker.ts";
import type { PublishBody } from "../core/frame.ts";
import { SourceStats } from "./source_stats.ts";

/** Publishes what `POST /publish` was given, and counts it. */
export class HttpSource {
  /** Its statistics: written only here. */
  readonly stats: SourceStats = new SourceStats("http");
  readonly #broker: Broker;

  /** @param broker where the messages go @param now monotonic clock, ms */
  constructor(broker: Broker, now: () => number = () => performance.now()) {
    this.#broker = broker;
    this.stats.startedAt = now();
  }

  /** Whether `channel` exists or may be created now (`--max-channels`). */
  admits(channel: string): boolean {
    return this.#broker.admits(channel);
  }

  /**
   * Publishes `bodies` to `channel`, in order, and counts them as published,
   * or as refused when the broker cannot take them now.
   * @throws {BrokerUnavailableError} as the broker does
   */
  async publish(
    channel: string,
    bodies: readonly PublishBody[],
  ): Promise<Published> {
    try {
      const published = await this.#broker.publish(channel, bodies);
      this.stats.published += bodies.length;
      return published;
    } catch (err) {
      if (err instanceof BrokerUnavailableError) {
        this.stats.refused += bodies.length;
      }
      throw err;
    }
  }
}
