/**
 * The pub/sub side of the Redis broker as the channels see it: SUBSCRIBE
 * and UNSUBSCRIBE, remembered here, so that when the connection is
 * replaced by one to another server (a Sentinel failover) every subject is
 * subscribed again there. Between replacements node-redis itself
 * resubscribes after a reconnect.
 *
 * @module
 */

/** A pub/sub message listener. */
export type Listener = (message: string, subject: string) => unknown;

/** What the subscriber needs of a node-redis client. */
export interface PubSubClient {
  /** Whether the socket is open (connected, or reconnecting). */
  readonly isOpen: boolean;
  /** Whether it is connected and ready. */
  readonly isReady: boolean;
  /** SUBSCRIBE. */
  subscribe(subject: string, listener: Listener): Promise<unknown>;
  /** UNSUBSCRIBE (one listener, or all of the subject's). */
  unsubscribe(subject: string, listener?: Listener): Promise<unknown>;
}

/** The subjects subscribed, on whichever connection is current. */
export class RedisSubscriber {
  #client: PubSubClient;
  readonly #subjects = new Map<string, Set<Listener>>();
  #resubscribed: Promise<void> = Promise.resolve();
  #resubscribing = false;

  /** @param client the pub/sub connection */
  constructor(client: PubSubClient) {
    this.#client = client;
  }

  /** Whether the pub/sub connection is ready. */
  get isReady(): boolean {
    return this.#client.isReady;
  }

  /** Subscribes `listener` to `subject` (now, or once the connection opens). */
  async subscribe(subject: string, listener: Listener): Promise<void> {
    let listeners = this.#subjects.get(subject);
    if (!listeners) this.#subjects.set(subject, listeners = new Set());
    listeners.add(listener);
    if (this.#client.isOpen) await this.#client.subscribe(subject, listener);
  }

  /** Unsubscribes `listener` (or every listener) from `subject`. */
  async unsubscribe(subject: string, listener?: Listener): Promise<void> {
    const listeners = this.#subjects.get(subject);
    if (listener) listeners?.delete(listener);
    if (!listener || listeners?.size === 0) this.#subjects.delete(subject);
    if (this.#client.isOpen) await this.#client.unsubscribe(subject, listener);
  }

  /**
   * Settles once the SUBSCRIBEs of the last {@link replace} were answered
   * (or failed): a JOIN sent before is asked again then, so that what it
   * read and what the new connection delivers leave no gap between them.
   */
  get resubscribed(): Promise<void> {
    return this.#resubscribed;
  }

  /** Whether the SUBSCRIBEs of the last {@link replace} are still on their way. */
  get resubscribing(): boolean {
    return this.#resubscribing;
  }

  /** Moves every subscription to `client` (a new connection, maybe to another server). */
  replace(client: PubSubClient): void {
    this.#client = client;
    const sent: Promise<unknown>[] = [];
    for (const [subject, listeners] of this.#subjects) {
      for (const listener of listeners) {
        sent.push(client.subscribe(subject, listener));
      }
    }
    this.#resubscribing = true;
    const done = Promise.allSettled(sent).then(() => {
      if (this.#resubscribed === done) this.#resubscribing = false;
    });
    this.#resubscribed = done;
  }
}
