/**
 * Subscribers over Server-Sent Events: `GET /sse?channel=NAME`, for
 * networks and clients where a WebSocket will not do. The request is
 * admitted exactly like a WebSocket upgrade (origin, capacity, channel,
 * credentials: admission.ts) and becomes a session of the same hub, with
 * the same per-client queue and slow-client policy, over an
 * {@link SseSink}. Resume is the SSE way: the `Last-Event-ID` a browser's
 * EventSource sends by itself on reconnect (`<epoch>:<seq>`, as the server
 * set it) stands for `?since=<seq>&epoch=<epoch>`. Control frames are
 * always on (named events an `onmessage` handler never sees); `?batch=1`
 * does not apply.
 *
 * @module
 */
import { EPOCH_NAME } from "../../lib/protocol.ts";
import type { Hub } from "../core/hub.ts";
import { type AdmissionLimits, AdmissionSlots, admit } from "./admission.ts";
import type { SubscriberAuth } from "./auth.ts";
import { SseSink } from "./sse_sink.ts";

/** Where SSE subscribers connect. */
export const SSE_PATH = "/sse";

/** Options of {@link createSseHandler}. */
export interface SseOptions {
  /** Who may subscribe (resolves once its key is imported). */
  readonly auth: Promise<SubscriberAuth>;
  /** Origin and capacity limits. */
  readonly limits: AdmissionLimits;
  /** Capacity held by clients being admitted, shared with the WebSocket handler. @default a fresh one */
  readonly slots?: AdmissionSlots;
  /** Reconnect delay for EventSource, ms. @default 1000 */
  readonly retryMs?: number;
}

const LAST_EVENT_ID = /^([^:]{1,64}):(\d{1,15})$/;

/**
 * Builds the `GET /sse` handler.
 * @param hub the hub subscribers join
 * @param options credentials and limits, as for WebSocket subscribers
 */
export function createSseHandler(
  hub: Hub,
  options: SseOptions,
): (
  req: Request,
  url: URL,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Promise<Response> {
  const slots = options.slots ?? new AdmissionSlots();
  return async (req, url, info) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return Response.json(
        { error: `method ${req.method} not allowed on ${SSE_PATH}: use GET` },
        { status: 405, headers: { allow: "GET, HEAD" } },
      );
    }
    let terms = url;
    const lastId = req.headers.get("last-event-id");
    if (lastId !== null && lastId !== "") {
      const m = LAST_EVENT_ID.exec(lastId);
      if (!m || !EPOCH_NAME.test(m[1]!)) {
        hub.reject("bad_since");
        return Response.json({
          error:
            `Last-Event-ID must be <epoch>:<seq> as this server sent it, got ${
              JSON.stringify(lastId.slice(0, 80))
            }`,
        }, { status: 400 });
      }
      terms = new URL(url);
      terms.searchParams.set("since", m[2]!);
      terms.searchParams.set("epoch", m[1]!);
    }
    const admitted = await admit(
      req,
      terms,
      hub,
      await options.auth,
      options.limits,
      slots,
    );
    if (!admitted.ok) {
      hub.reject(admitted.label);
      return Response.json({ error: admitted.reason }, {
        status: admitted.status,
      });
    }
    const headers: Record<string, string> = {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    };
    const origin = req.headers.get("origin");
    if (origin !== null) {
      // Admission let this origin in; the browser needs to be told so.
      headers["access-control-allow-origin"] = origin;
      headers["vary"] = "origin";
    }
    const { reservation } = admitted;
    if (req.method === "HEAD") {
      reservation.release();
      return new Response(null, { headers });
    }
    const { hostname, port } = info.remoteAddr;
    let gone = () => {};
    const sink = new SseSink({
      onPeerGone: () => gone(),
      ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
    });
    try {
      const { channel, since, epoch, expiresAt } = admitted;
      const session = hub.open(sink, {
        remote: `${hostname}:${port}`,
        channel,
        control: true,
        ...(since === undefined ? {} : { since }),
        ...(epoch === undefined ? {} : { epoch }),
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...(reservation.replayDone
          ? { replayDone: reservation.replayDone }
          : {}),
      });
      reservation.opened();
      // SSE has no close frame: a reader that goes closed its stream.
      gone = () =>
        hub.peerClosed(session, 1000, "SSE reader closed the stream");
    } catch (err) {
      // Not expected: the channel was held since admission.
      reservation.release();
      hub.reject("too_many_channels");
      return Response.json({ error: (err as Error).message }, { status: 503 });
    }
    return new Response(sink.stream, { headers });
  };
}
