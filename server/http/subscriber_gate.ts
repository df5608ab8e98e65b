/**
 * The one way a subscriber comes in, over WebSocket and SSE alike: its
 * request is admitted (origin, capacity, channel, credentials:
 * `admission.ts`), and once its transport is ready it is opened as a session
 * of the hub on that transport's sink. A refusal is counted and answered the
 * same way for both.
 *
 * @module
 */
import type { Hub } from "../core/hub.ts";
import type { Session } from "../core/session.ts";
import type { Sink } from "../core/sink.ts";
import {
  type AdmissionLimits,
  AdmissionSlots,
  admit,
  type Admitted,
} from "./admission.ts";
import type { SubscriberAuth } from "./auth.ts";
import { gateBeforeAdmission, gateReplay, type Gates } from "./gates.ts";
import { LastCloses } from "./last_close.ts";
import { ReconnectPacer } from "./reconnect_pacer.ts";
import {
  refusalResponse,
  refusalRetryMs,
  refuseByClose,
  wantsRefusalByClose,
} from "./refusal.ts";

/** Options of {@link SubscriberGate}. */
export interface SubscriberGateOptions {
  /** Who may subscribe (resolves once its key is imported). */
  readonly auth: Promise<SubscriberAuth>;
  /** Origin and capacity limits. */
  readonly limits: AdmissionLimits;
  /** Capacity held by clients being admitted, shared by every transport. @default a fresh one */
  readonly slots?: AdmissionSlots;
  /** The node-wide gates: a drain, `--max-connect-rate`, `--replay-budget`. @default none */
  readonly gates?: Gates;
  /** Spreads the `retry_in_ms` hints of closes that invite a reconnect. @default one of its own */
  readonly pacer?: ReconnectPacer;
  /** The last server-made close of each `?client=` id. @default a store of its own */
  readonly lastCloses?: LastCloses;
}

/** Admission and opening of subscribers, shared by the WebSocket and SSE handlers. */
export class SubscriberGate {
  /** The hub subscribers join. */
  readonly hub: Hub;
  readonly #options: SubscriberGateOptions;
  readonly #slots: AdmissionSlots;
  readonly #gates: Gates;
  readonly #lastCloses: LastCloses;
  /** Spreads the retry hints of the closes the sessions' sinks send. */
  readonly pacer: ReconnectPacer;

  /** @param hub the hub subscribers join @param options credentials and limits */
  constructor(hub: Hub, options: SubscriberGateOptions) {
    this.hub = hub;
    this.#options = options;
    this.#slots = options.slots ?? new AdmissionSlots();
    this.#gates = options.gates ?? {};
    this.pacer = options.pacer ?? new ReconnectPacer();
    const lastCloses = this.#lastCloses = options.lastCloses ??
      new LastCloses();
    hub.on((e) => {
      if (e.type === "disconnect") lastCloses.ended(e.subscriber.id, e.end);
    });
  }

  /**
   * Admits the request (its terms from `url`) and reserves its capacity.
   * @returns the terms, or the refusal's JSON response (counted)
   */
  async admit(req: Request, url: URL): Promise<Admitted | Response> {
    const closed = gateBeforeAdmission(this.#gates);
    if (closed) {
      const { status, reason, label, atLeastMs } = closed;
      return this.refuse(status, reason, label, req, url, atLeastMs);
    }
    const terms = await admit(
      req,
      url,
      this.hub,
      await this.#options.auth,
      this.#options.limits,
      this.#slots,
    );
    if (!terms.ok) {
      return this.refuse(terms.status, terms.reason, terms.label, req, url);
    }
    const over = gateReplay(this.#gates, this.hub, terms);
    if (over) {
      terms.reservation.release();
      const { status, reason, label, atLeastMs } = over;
      return this.refuse(status, reason, label, req, url, atLeastMs);
    }
    return terms;
  }

  /**
   * Counts a refusal under `label` and answers it: JSON (with
   * `retry_in_ms` and `Retry-After` for a "later" one), or, for a
   * WebSocket client that asked with `?refusal=close`, an accepted upgrade
   * closed at once with `4000 + status` and the reason (refusal.ts).
   * @param atLeastMs the least retry hint (a gate's wait)
   */
  refuse(
    status: number,
    reason: string,
    label: string,
    req?: Request,
    url?: URL,
    atLeastMs = 0,
  ): Response {
    this.hub.reject(label);
    const retryInMs = refusalRetryMs(status, Math.random, atLeastMs);
    const closed = req && url && wantsRefusalByClose(url)
      ? refuseByClose(req, status, reason, retryInMs)
      : undefined;
    return closed ?? refusalResponse(status, reason, retryInMs);
  }

  /**
   * Opens the admitted subscriber as a session on `sink`; its reservation
   * becomes the session.
   * @param fixed what the transport decides over the request's terms (SSE:
   *   control frames always, never batches)
   * @returns the session, or, when the channel could not be opened (not
   *   expected: it was held since admission), the reason, with the
   *   reservation given back and the refusal counted
   */
  open(
    sink: Sink,
    terms: Admitted,
    remote: string,
    fixed: { readonly control?: boolean; readonly batch?: boolean } = {},
  ): Session | Error {
    const { channel, since, epoch, sinceTs, expiresAt, reservation, client } =
      terms;
    const control = fixed.control ?? terms.control;
    const last = client !== undefined && (control || since !== undefined)
      ? this.#lastCloses.take(client, channel)
      : undefined;
    const batch = fixed.batch ?? terms.batch;
    // A transport that never batches never coalesces either (`?batch=auto`).
    const coalesce = fixed.batch === false ? false : terms.coalesce;
    try {
      const session = this.hub.open(sink, {
        remote,
        channel,
        control,
        batch,
        coalesce,
        ...(since === undefined ? {} : { since }),
        ...(epoch === undefined ? {} : { epoch }),
        ...(sinceTs === undefined ? {} : { sinceTs }),
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...(last === undefined ? {} : { notices: [last] }),
        ...(reservation.replayDone
          ? { replayDone: reservation.replayDone }
          : {}),
      });
      reservation.opened();
      if (client !== undefined && !session.closed) {
        this.#lastCloses.bind(session.id, client);
      }
      return session;
    } catch (err) {
      reservation.release();
      this.hub.reject("too_many_channels");
      return err as Error;
    }
  }
}
