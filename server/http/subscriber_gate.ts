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

/** Options of {@link SubscriberGate}. */
export interface SubscriberGateOptions {
  /** Who may subscribe (resolves once its key is imported). */
  readonly auth: Promise<SubscriberAuth>;
  /** Origin and capacity limits. */
  readonly limits: AdmissionLimits;
  /** Capacity held by clients being admitted, shared by every transport. @default a fresh one */
  readonly slots?: AdmissionSlots;
}

/** Admission and opening of subscribers, shared by the WebSocket and SSE handlers. */
export class SubscriberGate {
  /** The hub subscribers join. */
  readonly hub: Hub;
  readonly #options: SubscriberGateOptions;
  readonly #slots: AdmissionSlots;

  /** @param hub the hub subscribers join @param options credentials and limits */
  constructor(hub: Hub, options: SubscriberGateOptions) {
    this.hub = hub;
    this.#options = options;
    this.#slots = options.slots ?? new AdmissionSlots();
  }

  /**
   * Admits the request (its terms from `url`) and reserves its capacity.
   * @returns the terms, or the refusal's JSON response (counted)
   */
  async admit(req: Request, url: URL): Promise<Admitted | Response> {
    const terms = await admit(
      req,
      url,
      this.hub,
      await this.#options.auth,
      this.#options.limits,
      this.#slots,
    );
    if (terms.ok) return terms;
    return this.refuse(terms.status, terms.reason, terms.label);
  }

  /** Counts a refusal under `label` and answers it as JSON. */
  refuse(status: number, reason: string, label: string): Response {
    this.hub.reject(label);
    return Response.json({ error: reason }, { status });
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
    const { channel, since, epoch, expiresAt, reservation } = terms;
    const control = fixed.control ?? terms.control;
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
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...(reservation.replayDone
          ? { replayDone: reservation.replayDone }
          : {}),
      });
      reservation.opened();
      return session;
    } catch (err) {
      reservation.release();
      this.hub.reject("too_many_channels");
      return err as Error;
    }
  }
}
