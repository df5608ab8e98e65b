/**
 * Whether a WebSocket upgrade may become a subscriber, and on what terms:
 * origin, capacity, channel name, `?since=`, channel limit, credentials.
 * Every refusal is an HTTP status with a reason and a rejection label.
 *
 * @module
 */
import {
  checkChannelName,
  DEFAULT_CHANNEL,
  EPOCH_NAME,
} from "../../lib/protocol.ts";
import type { Hub } from "../core/hub.ts";
import { credentialOf, type SubscriberAuth } from "./auth.ts";

/** Limits that apply before a subscriber exists. */
export interface AdmissionLimits {
  /** Origins allowed to connect from a browser; empty allows any. A request without Origin is not a browser's and is allowed. */
  readonly allowedOrigins: readonly string[];
  /** Subscribers at once (`--max-clients`). */
  readonly maxClients: number;
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
  /** `?control=1`: send control frames. */
  readonly control: boolean;
  /** `?batch=1`: several messages per frame, as a JSON array (queue mode). */
  readonly batch: boolean;
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

/** Decides on one upgrade request. Checks run cheapest first; credentials last. */
export async function admit(
  req: Request,
  url: URL,
  hub: Hub,
  auth: SubscriberAuth,
  limits: AdmissionLimits,
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
  if (hub.size >= limits.maxClients) {
    return refused(
      503,
      `server full: ${limits.maxClients} clients (--max-clients)`,
      "server_full",
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
      `epoch must be 1-64 of A-Z a-z 0-9 _ -, got ${
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
  if (!hub.admits(channel)) {
    return refused(
      503,
      `cannot open channel ${channel}: channel limit reached (--max-channels)`,
      "too_many_channels",
    );
  }
  const verdict = await auth.check(credentialOf(req, url), channel);
  if (!verdict.ok) {
    return refused(
      verdict.status,
      verdict.reason,
      verdict.status === 403 ? "forbidden_channel" : "unauthorized",
    );
  }
  const control = url.searchParams.get("control") === "1";
  const batch = url.searchParams.get("batch") === "1";
  return {
    ok: true,
    channel,
    control,
    batch,
    ...(since === undefined ? {} : { since }),
    ...(epoch === undefined ? {} : { epoch }),
  };
}
