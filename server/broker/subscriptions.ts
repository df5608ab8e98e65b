/**
 * Pub/sub subscriptions of one node, serialised per subject: SUBSCRIBE and
 * UNSUBSCRIBE of one subject never overlap, and a subscription is dissolved
 * only after re-checking, when its turn comes, that nobody wants it any
 * more. A client library that drops a subject's listeners when an
 * UNSUBSCRIBE reply arrives (node-redis does) can then never leave a node
 * deaf: the SUBSCRIBE of a client that joined meanwhile is sent after that
 * reply, not before.
 *
 * No network here: the commands are behind {@link PubSubIo}, so the
 * simulator drives the same code.
 *
 * @module
 */

/** The two commands, as the pub/sub connection runs them. */
export interface PubSubIo {
  /** SUBSCRIBE; resolves once the engine confirmed it. */
  subscribe(subject: string): Promise<void>;
  /** UNSUBSCRIBE; resolves once the engine confirmed it. */
  unsubscribe(subject: string): Promise<void>;
}

interface State {
  /** Whether a local client wants the subject now. */
  wanted: boolean;
  /** Whether the engine has it subscribed (as far as confirmed replies say). */
  active: boolean;
  /** The last command queued for the subject. */
  chain: Promise<void>;
}

/** One node's subscriptions, one queue of commands per subject. */
export class Subscriptions {
  readonly #io: PubSubIo;
  readonly #dissolveAfterMs: number;
  readonly #states = new Map<string, State>();

  /**
   * @param io the pub/sub commands
   * @param dissolveAfterMs how long an unwanted subscription is kept before
   *   it is dissolved (a client that comes back at once costs nothing)
   */
  constructor(io: PubSubIo, dissolveAfterMs = 0) {
    this.#io = io;
    this.#dissolveAfterMs = dissolveAfterMs;
  }

  /** Whether `subject` is subscribed in the engine (confirmed). */
  active(subject: string): boolean {
    return this.#states.get(subject)?.active ?? false;
  }

  /**
   * A local client wants `subject`: resolves once it is subscribed.
   * @throws whatever SUBSCRIBE threw (the next {@link want} tries again)
   */
  want(subject: string): Promise<void> {
    const state = this.#state(subject);
    state.wanted = true;
    return this.#queue(subject, state, () => this.#settle(subject, state));
  }

  /** No local client wants `subject` any more: dissolved in its turn, if still unwanted. */
  drop(subject: string): void {
    const state = this.#states.get(subject);
    if (!state) return;
    state.wanted = false;
    this.#queue(subject, state, async () => {
      if (this.#dissolveAfterMs > 0) {
        await new Promise((r) => setTimeout(r, this.#dissolveAfterMs));
      }
      await this.#settle(subject, state);
    }).catch(() => {});
  }

  /**
   * Subscribes `subject` again (UNSUBSCRIBE, then SUBSCRIBE if still
   * wanted): the repair of a subscription the engine may have lost.
   */
  renew(subject: string): Promise<void> {
    const state = this.#states.get(subject);
    if (!state) return Promise.resolve();
    return this.#queue(subject, state, async () => {
      if (state.active) {
        await this.#io.unsubscribe(subject);
        state.active = false;
      }
      await this.#settle(subject, state);
    });
  }

  /** Forgets every subject (the connection is closing). */
  clear(): void {
    this.#states.clear();
  }

  #state(subject: string): State {
    let state = this.#states.get(subject);
    if (!state) {
      state = { wanted: false, active: false, chain: Promise.resolve() };
      this.#states.set(subject, state);
    }
    return state;
  }

  /** Runs `step` after every command queued before it for `subject`. */
  #queue(subject: string, state: State, step: () => Promise<void>) {
    const run = state.chain.then(step);
    const tail = run.catch(() => {}).then(() => {
      // Idle, unwanted and not subscribed: nothing to remember.
      if (
        state.chain === tail && !state.wanted && !state.active &&
        this.#states.get(subject) === state
      ) this.#states.delete(subject);
    });
    state.chain = tail;
    return run;
  }

  /** Brings the engine in line with what is wanted now (checked when the turn comes). */
  async #settle(subject: string, state: State): Promise<void> {
    if (state.wanted && !state.active) {
      await this.#io.subscribe(subject);
      state.active = true;
    } else if (!state.wanted && state.active) {
      state.active = false;
      await this.#io.unsubscribe(subject);
    }
  }
}
