/**
 * Whether a WebSocket upgrade may become a subscriber, and on what terms:
 * origin, capacity, channel name, `?since=`, channel limit, replays,
 * credentials. Every refusal is an HTTP status with a reason and a
 * rejection label.
 *
 * Capacity is taken at admission, before anything is awaited: a client
 * slot (`--max-clients`), its channel's place (`--max-channels`) and, for
 * `?since=`, a replay slot (`--max-replays`) are reserved at once, so
 * concurrent upgrades can never overshoot a limit; they are given back when
 * the upgrade fails or the socket never opens.
 *
 * @module
 */
import {
  checkChannelName,
  DEFAULT_CHANNEL,
  EPOCH_NAME,
} from "../../lib/protocol.ts";
import type { Hub } from "../core/hub.ts";
import { clientIdOf } from "./last_close.ts";
import { credentialOf, type SubscriberAuth } from "./auth.ts";

/** Limits that apply before a subscriber exists. */
export interface AdmissionLimits {
  /** Origins allowed to connect from a browser; empty allows any. A request without Origin is not a browser's and is allowed. */
  readonly allowedOrigins: readonly string[];
  /** Subscribers at once (`--max-clients`). */
  readonly maxClients: number;
  /** `?since=` replays in progress at once (`--max-replays`). @default Infinity */
  readonly maxReplays?: number;
}

/**
 * What admitted clients hold before they are sessions: client slots taken
 * by upgrades in flight, and replays in progress.
 */
export class AdmissionSlots {
  #upgrading = 0;
  #replays = 0;

  /** Client slots held by upgrades not yet open. */
  get upgrading(): number {
    return this.#upgrading;
  }

  /** Replays in progress (admitted and not yet complete). */
  get replays(): number {
    return this.#replays;
  }

  /** Takes a client slot if `open + upgrading` stays under `max`. @returns the release function, or undefined */
  takeClient(open: number, max: number): (() => void) | undefined {
    if (open + this.#upgrading >= max) return undefined;
    this.#upgrading++;
    return once(() => this.#upgrading--);
  }

  /** Takes a replay slot if fewer than `max` are in progress. @returns the release function, or undefined */
  takeReplay(max: number): (() => void) | undefined {
    if (this.#replays >= max) return undefined;
    this.#replays++;
    return once(() => this.#replays--);
  }
}

/** What an admitted client holds until it is a session (or gives up). */
export interface Reservation {
  /** Gives everything back: the upgrade failed or the socket never opened. */
  release(): void;
  /** The session exists: the client slot becomes it, the channel hold is no longer needed. */
  opened(): void;
  /** Gives the replay slot back; the hub calls it once the replay is complete. */
  readonly replayDone: (() => void) | undefined;
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/** A subscriber's terms, from its URL. */
export interface Admitted {
  readonly ok: true;
  /** Channel to subscribe to. */
  readonly channel: string;
  /** `?since=SEQ`, when given. */
  readonly since?: number;
  /** `?epoch=E`, the epoch `since` belongs to, when given. */
  readonly epoch?: string;
  /** `?since_ts=T`, the `ts_send` of the message the client holds at `since`, when given. */
  readonly sinceTs?: number;
  /** `?control=1`: send control frames. */
  readonly control: boolean;
  /** `?batch=1`: several messages per frame, as a JSON array (queue mode). */
  readonly batch: boolean;
  /** `?batch=auto`: batch frames only when messages queued up, no timer (queue mode). */
  readonly coalesce: boolean;
  /** The capacity held for this client until its socket opens. */
  readonly reservation: Reservation;
  /** When its credentials expire, epoch seconds (a JWT's `exp`), if they do. */
  readonly expiresAt?: number;
  /** Its `?client=` id, when it gave a valid one (last_close.ts). */
  readonly client?: string;
}

/** A refusal. */
export interface Refused {
  readonly ok: false;
  /** HTTP status. */
  readonly status: number;
  /** Why, for the response body. */
  readonly reason: string;
  /** Rejection label for metrics. */
  readonly label: string;
}

function refused(status: number, reason: string, label: string): Refused {
  return { ok: false, status, reason, label };
}

/**
 * Decides on one upgrade request and reserves its capacity. Checks run
 * cheapest first, credentials last; every slot is taken before the first
 * await and given back on refusal.
 */
export async function admit(
  req: Request,
  url: URL,
  hub: Hub,
  auth: SubscriberAuth,
  limits: AdmissionLimits,
  slots: AdmissionSlots,
): Promise<Admitted | Refused> {
  const origin = req.headers.get("origin");
  if (
    origin !== null && limits.allowedOrigins.length > 0 &&
    !limits.allowedOrigins.includes(origin)
  ) {
    return refused(
      403,
      `origin ${origin} is not allowed (--allowed-origins)`,
      "bad_origin",
    );
  }
  let channel: string;
  try {
    channel = checkChannelName(
      url.searchParams.get("channel") ?? DEFAULT_CHANNEL,
    );
  } catch (err) {
    return refused(400, (err as Error).message, "bad_channel");
  }
  const sinceText = url.searchParams.get("since");
  let since: number | undefined;
  if (sinceText !== null) {
    since = /^\d{1,15}$/.test(sinceText) ? Number(sinceText) : NaN;
    if (!Number.isSafeInteger(since)) {
      return refused(
        400,
        `since must be a whole number of 0 or more, got ${
          JSON.stringify(sinceText.slice(0, 40))
        }`,
        "bad_since",
      );
    }
  }
  const epoch = url.searchParams.get("epoch") ?? undefined;
  if (epoch !== undefined && !EPOCH_NAME.test(epoch)) {
    return refused(
      400,
      `epoch must be 1-64 of A-Z a-z 0-9 _ - ., got ${
        JSON.stringify(epoch.slice(0, 40))
      }`,
      "bad_epoch",
    );
  }
  if (epoch !== undefined && since === undefined) {
    return refused(
      400,
      "epoch names the stream of a since= position: give since= with it",
      "bad_epoch",
    );
  }
  const sinceTsText = url.searchParams.get("since_ts");
  const sinceTs = sinceTsText === null ? undefined : Number(sinceTsText);
  if (
    sinceTsText !== null &&
    (sinceTsText.trim() === "" || !Number.isFinite(sinceTs) ||
      since === undefined)
  ) {
    return refused(
      400,
      `since_ts must be the ts_send of the message at since= (a number, given with since=), got ${
        JSON.stringify(sinceTsText.slice(0, 40))
      }`,
      "bad_since",
    );
  }
  // Capacity: every slot is taken here, before anything is awaited.
  const client = slots.takeClient(hub.size, limits.maxClients);
  if (!client) {
    return refused(
      503,
      `server full: ${limits.maxClients} clients (--max-clients)`,
      "server_full",
    );
  }
  const channelHold = hub.holdChannel(channel);
  if (!channelHold) {
    client();
    return refused(
      503,
      `cannot open channel ${channel}: channel limit reached (--max-channels)`,
      "too_many_channels",
    );
  }
  let replay: (() => void) | undefined;
  if (since !== undefined) {
    replay = slots.takeReplay(limits.maxReplays ?? Infinity);
    if (!replay) {
      client();
      channelHold();
      return refused(
        503,
        `too many replays in progress (--max-replays ${limits.maxReplays}); retry shortly`,
        "too_many_replays",
      );
    }
  }
  const reservation: Reservation = {
    release() {
      client();
      channelHold();
      replay?.();
    },
    opened() {
      client();
      channelHold();
    },
    replayDone: replay,
  };
  const verdict = await auth.check(credentialOf(req, url), channel);
  if (!verdict.ok) {
    reservation.release();
    return refused(
      verdict.status,
      verdict.reason,
      verdict.status === 403 ? "forbidden_channel" : "unauthorized",
    );
  }
  const control = url.searchParams.get("control") === "1";
  const batch = url.searchParams.get("batch") === "1";
  const coalesce = url.searchParams.get("batch") === "auto";
  const clientId = clientIdOf(url);
  return {
    ok: true,
    channel,
    control,
    batch,
    coalesce,
    reservation,
    ...(since === undefined ? {} : { since }),
    ...(epoch === undefined ? {} : { epoch }),
    ...(sinceTs === undefined ? {} : { sinceTs }),
    ...(verdict.expiresAt === undefined
      ? {}
      : { expiresAt: verdict.expiresAt }),
    ...(clientId === undefined ? {} : { client: clientId }),
  };
}
