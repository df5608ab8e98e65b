/**
 * Subscribers over Server-Sent Events: `GET /sse?channel=NAME`, for
 * networks and clients where a WebSocket will not do. The request is
 * admitted and opened exactly like a WebSocket upgrade, through the same
 * {@link SubscriberGate}, and becomes a session of the same hub, with
 * the same per-client queue and slow-client policy, over an
 * {@link SseSink}. Resume is the SSE way: the `Last-Event-ID` a browser's
 * EventSource sends by itself on reconnect (`<epoch>:<seq>:<ts_send>`, as
 * the server set it) stands for
 * `?since=<seq>&epoch=<epoch>&since_ts=<ts_send>` (`<epoch>:<seq>`, the
 * shorter form of earlier versions, is still taken). Control frames are
 * always on (named events an `onmessage` handler never sees); `?batch=1`
 * does not apply.
 *
 * @module
 */
import { remoteLabel } from "./client_label.ts";
import { EPOCH_NAME } from "../../lib/protocol.ts";
import { SSE_PATH } from "./paths.ts";
import { SseEncoder } from "./sse_event.ts";
import { SseSink } from "./sse_sink.ts";
import type { SubscriberGate } from "./subscriber_gate.ts";
import type { Session } from "../core/session.ts";

/** Options of {@link createSseHandler}. */
export interface SseOptions {
  /** Reconnect delay for EventSource, ms. @default 1000 */
  readonly retryMs?: number;
}

const LAST_EVENT_ID = /^([^:]{1,64}):(\d{1,15})(?::([^:]{1,32}))?$/;

/**
 * Builds the `GET /sse` handler.
 * @param gate admission and opening, shared with WebSocket subscribers
 * @param options the reconnect delay
 */
export function createSseHandler(
  gate: SubscriberGate,
  options: SseOptions = {},
): (
  req: Request,
  url: URL,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Promise<Response> {
  const { hub } = gate;
  // Every subscriber of a channel gets the same event: encoded once.
  const encoder = new SseEncoder();
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
      const ts = m?.[3];
      if (
        !m || !EPOCH_NAME.test(m[1]!) ||
        (ts !== undefined && (ts.trim() === "" || !Number.isFinite(Number(ts))))
      ) {
        return gate.refuse(
          400,
          `Last-Event-ID must be <epoch>:<seq>:<ts_send> as this server sent it, got ${
            JSON.stringify(lastId.slice(0, 80))
          }`,
          "bad_since",
        );
      }
      terms = new URL(url);
      terms.searchParams.set("since", m[2]!);
      terms.searchParams.set("epoch", m[1]!);
      if (ts !== undefined) terms.searchParams.set("since_ts", ts);
      else terms.searchParams.delete("since_ts");
    }
    const admitted = await gate.admit(req, terms);
    if (admitted instanceof Response) return admitted;
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
    // SSE has no close frame: a reader that goes closed its stream.
    const opened: { session?: Session } = {};
    const sink = new SseSink({
      onPeerGone: () => {
        if (opened.session) {
          hub.peerClosed(opened.session, 1000, "SSE reader closed the stream");
        }
      },
      encoder,
      pacer: gate.pacer,
      ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
    });
    const session = gate.open(
      sink,
      admitted,
      remoteLabel(hostname, port, url),
      {
        control: true,
        batch: false,
      },
    );
    if (session instanceof Error) {
      return Response.json({ error: session.message }, { status: 503 });
    }
    opened.session = session;
    return new Response(sink.stream, { headers });
  };
}
