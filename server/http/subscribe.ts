/**
 * Subscribers over HTTP: a WebSocket upgrade on `/` (or `/ws`) is checked
 * (a well-formed upgrade), admitted (origin, capacity, channel, credentials)
 * and becomes a session; `GET /sse` goes to the SSE handler (sse.ts) and the
 * HTTP source's `POST /publish` to its handler when it is on. The only file
 * that upgrades to Deno's WebSocket. The router (router.ts) sends everything
 * that is not an observability endpoint here.
 *
 * @module
 */
import { CLOSE_CODES, fitCloseReason } from "../../lib/close_codes.ts";
import type { Hub } from "../core/hub.ts";
import type { ReplayBudget } from "../core/replay_budget.ts";
import type { Session } from "../core/session.ts";
import {
  type AdmissionLimits,
  AdmissionSlots,
  admit,
  type Admitted,
} from "./admission.ts";
import type { SubscriberAuth } from "./auth.ts";
import {
  refusalResponse,
  refusalRetryMs,
  refuseByClose,
  wantsRefusalByClose,
} from "./refusal.ts";
import type { ConnectRate } from "./connect_rate.ts";
import { gateBeforeAdmission, gateReplay } from "./gates.ts";
import { clientIdOf, LastCloses } from "./last_close.ts";
import { ReconnectPacer } from "./reconnect_pacer.ts";
import { SSE_PATH } from "./sse.ts";
import { WebSocketSink } from "./websocket_sink.ts";

/** Paths where a WebSocket upgrade subscribes (the seed's clients use `/`). */
export const SUBSCRIBE_PATHS: ReadonlySet<string> = new Set(["/", "/ws"]);

/** Options of {@link createSubscribeHandler}. */
export interface SubscribeOptions {
  /** Deno's ping idle timeout, seconds (0 disables): a silent peer is pinged after half, closed after all of it. */
  readonly idleTimeoutSeconds: number;
  /** Who may subscribe (resolves once its key is imported). */
  readonly auth: Promise<SubscriberAuth>;
  /** Origin and capacity limits. */
  readonly limits: AdmissionLimits;
  /** How long an admitted upgrade may take to open before its slot is given back, ms. @default 5000 */
  readonly openTimeoutMs?: number;
  /** Where the open sockets are kept, for a graceful shutdown. @default a registry of its own */
  readonly sockets?: OpenSockets;
  /** Capacity held by clients being admitted, shared with the SSE handler so `--max-clients` counts both. @default a fresh one */
  readonly slots?: AdmissionSlots;
  /** The last server-made close of each `?client=` id, told to its next session. @default a store of its own */
  readonly lastCloses?: LastCloses;
  /** Replayed messages per second shared by resuming clients (`--replay-budget`); over it a resume gets 503 with a hint. */
  readonly replayBudget?: ReplayBudget;
  /** New connections per second (`--max-connect-rate`); beyond it 503 with Retry-After and a hint. */
  readonly connectRate?: ConnectRate;
  /** A drain in progress refuses new subscribers (503 with a retry hint). */
  readonly drain?: { readonly draining: boolean };
  /** Spreads the `retry_in_ms` hints of closes that invite a reconnect. @default one of its own, at its default rate */
  readonly pacer?: ReconnectPacer;
  /** Whether the 426 hint may say the mode and the client count (false when admin pages are protected). @default true */
  readonly revealCounts?: boolean;
  /** `POST /publish`, when `--source http` is on. */
  readonly publish?:
    | ((req: Request, url: URL) => Promise<Response>)
    | undefined;
  /** `GET /sse`: Server-Sent Events subscribers (sse.ts). */
  readonly sse?: (
    req: Request,
    url: URL,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Promise<Response>;
}

/**
 * The subscribers' sockets from upgrade to close event, so a shutdown can
 * wait until their close handshakes are done.
 */
export class OpenSockets {
  readonly #sockets = new Set<WebSocket>();
  readonly #waiters = new Set<() => void>();

  /** Sockets not yet closed. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Tracks `socket` until {@link delete} (its close event). */
  add(socket: WebSocket): void {
    this.#sockets.add(socket);
  }

  /** Forgets `socket`: its close event came. */
  delete(socket: WebSocket): void {
    this.#sockets.delete(socket);
    if (this.#sockets.size === 0) {
      for (const wake of this.#waiters) wake();
    }
  }

  /**
   * Resolves once every socket that can still finish its close handshake
   * has (those with nothing left to send: a peer that stopped reading never
   * will), or after `deadlineMs`.
   */
  async closed(deadlineMs: number): Promise<void> {
    const end = performance.now() + deadlineMs;
    while (performance.now() < end) {
      let waiting = 0;
      for (const s of this.#sockets) if (s.bufferedAmount === 0) waiting++;
      if (waiting === 0) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, 20);
        this.#waiters.add(wake);
      });
    }
  }
}

/**
 * What is wrong with a WebSocket upgrade request, in one line, or undefined
 * when it is well formed (RFC 6455 §4.2.1). `Deno.upgradeWebSocket` throws
 * on these; checking first turns them into a 400.
 */
export function upgradeProblem(req: Request): string | undefined {
  const h = req.headers;
  if (req.method !== "GET") {
    return `a WebSocket upgrade must be GET, not ${req.method}`;
  }
  if (h.get("upgrade")?.toLowerCase() !== "websocket") {
    return "the Upgrade header must be websocket";
  }
  const connection = (h.get("connection") ?? "").toLowerCase().split(",")
    .map((s) => s.trim());
  if (!connection.includes("upgrade")) {
    return "the Connection header must include Upgrade";
  }
  if (h.get("sec-websocket-version")?.trim() !== "13") {
    return "Sec-WebSocket-Version must be 13";
  }
  const key = h.get("sec-websocket-key")?.trim();
  if (!key) return "the Sec-WebSocket-Key header is missing";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return "Sec-WebSocket-Key must be 16 bytes in base64";
  }
  return undefined;
}

/** Builds the request handler for subscribers and publishers. */
export function createSubscribeHandler(
  hub: Hub,
  options: SubscribeOptions,
): (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Promise<Response> {
  const slots = options.slots ?? new AdmissionSlots();
  const sockets = options.sockets ?? new OpenSockets();
  const openTimeoutMs = options.openTimeoutMs ?? 5000;
  const pacer = options.pacer ?? new ReconnectPacer();
  const lastCloses = options.lastCloses ?? new LastCloses();
  hub.on((e) => {
    if (e.type === "disconnect") lastCloses.ended(e.subscriber.id, e.end);
  });
  const refuse = (
    status: number,
    reason: string,
    label: string,
    req?: Request,
    url?: URL,
    atLeastMs = 0,
  ) => {
    hub.reject(label);
    const retryInMs = refusalRetryMs(status, Math.random, atLeastMs);
    const closed = req && url && wantsRefusalByClose(url)
      ? refuseByClose(req, status, reason, retryInMs)
      : undefined;
    return closed ?? refusalResponse(status, reason, retryInMs);
  };
  return async (req, info) => {
    const url = new URL(req.url);
    if (url.pathname === "/publish") {
      if (options.publish) return await options.publish(req, url);
      return Response.json({
        error:
          "publishing over HTTP is off: start the server with --source http --publish-token TOKEN",
      }, { status: 404 });
    }
    if (url.pathname === SSE_PATH && options.sse) {
      return await options.sse(req, url, info);
    }
    if (!SUBSCRIBE_PATHS.has(url.pathname)) {
      return Response.json({
        error:
          `not found: ${url.pathname}; subscribe at ws://<host>:<port>/ or GET /sse`,
      }, { status: 404 });
    }
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      const counts = options.revealCounts === false
        ? ""
        : ` (${hub.mode} mode, ${hub.size} clients)`;
      return Response.json({
        error: `fanout server${counts}: connect a WebSocket client to this URL`,
      }, { status: 426, headers: { upgrade: "websocket" } });
    }
    const problem = upgradeProblem(req);
    if (problem) {
      return refuse(400, `bad WebSocket upgrade: ${problem}`, "bad_upgrade");
    }
    const closed = gateBeforeAdmission(options);
    if (closed) {
      const { status, reason, label, atLeastMs } = closed;
      return refuse(status, reason, label, req, url, atLeastMs);
    }
    // remoteAddr must be read before the upgrade consumes the request.
    const addr = info.remoteAddr;
    const remote = `${addr.hostname}:${addr.port}`;
    const terms = await admit(
      req,
      url,
      hub,
      await options.auth,
      options.limits,
      slots,
    );
    if (!terms.ok) {
      return refuse(terms.status, terms.reason, terms.label, req, url);
    }
    const over = gateReplay(options, hub, terms);
    if (over) {
      terms.reservation.release();
      const { status, reason, label, atLeastMs } = over;
      return refuse(status, reason, label, req, url, atLeastMs);
    }
    const { reservation } = terms;
    let upgrade;
    try {
      upgrade = Deno.upgradeWebSocket(req, {
        idleTimeout: options.idleTimeoutSeconds,
      });
    } catch (err) {
      reservation.release();
      return refuse(
        400,
        `bad WebSocket upgrade: ${(err as Error).message}`,
        "bad_upgrade",
      );
    }
    const { socket, response } = upgrade;
    new SocketEvents(socket, hub, sockets, remote, terms, openTimeoutMs, {
      pacer,
      lastCloses,
      clientId: clientIdOf(url),
    });
    return response;
  };
}

/**
 * One subscriber's socket, from upgrade to close: opens its session, feeds
 * it the client's frames and tells it how the socket ended. One object is
 * every listener of the socket (`handleEvent`), and what only the opening
 * needs (the admission terms, the open timer) is let go once it opened: an
 * idle connection keeps as little as possible.
 */
class SocketEvents {
  readonly #socket: WebSocket;
  readonly #sockets: OpenSockets;
  #hub: Hub | undefined;
  #remote: string;
  #terms: Admitted | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #session: Session | undefined;
  #error = "";
  readonly #pacer: ReconnectPacer;
  readonly #lastCloses: LastCloses;
  readonly #clientId: string | undefined;

  constructor(
    socket: WebSocket,
    hub: Hub,
    sockets: OpenSockets,
    remote: string,
    terms: Admitted,
    openTimeoutMs: number,
    more: {
      pacer: ReconnectPacer;
      lastCloses: LastCloses;
      clientId: string | undefined;
    },
  ) {
    this.#pacer = more.pacer;
    this.#lastCloses = more.lastCloses;
    this.#clientId = more.clientId;
    this.#socket = socket;
    this.#sockets = sockets;
    this.#hub = hub;
    this.#remote = remote;
    this.#terms = terms;
    sockets.add(socket);
    socket.addEventListener("open", this, { once: true });
    socket.addEventListener("message", this);
    socket.addEventListener("error", this);
    socket.addEventListener("close", this, { once: true });
    // An upgrade that never opens gives its slots back.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#letGo()?.reservation.release();
      try {
        socket.close();
      } catch { /* not open yet */ }
    }, openTimeoutMs);
  }

  /** The socket's events, all of them. */
  handleEvent(e: Event): void {
    switch (e.type) {
      case "message":
        this.#session?.receive((e as MessageEvent).data);
        return;
      case "open":
        return this.#open();
      case "error":
        this.#error = (e as ErrorEvent).message ?? "";
        return;
      case "close": {
        const { code, reason } = e as CloseEvent;
        this.#sockets.delete(this.#socket);
        this.#letGo()?.reservation.release();
        this.#session?.peerClosed(code, reason, this.#error);
        this.#session = undefined;
      }
    }
  }

  /** Stops the open timer and hands back what only opening needed. */
  #letGo(): Admitted | undefined {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const terms = this.#terms;
    this.#terms = undefined;
    this.#hub = undefined;
    return terms;
  }

  #open(): void {
    const hub = this.#hub;
    const expired = this.#terms === undefined;
    const terms = this.#letGo();
    if (expired || !hub || !terms) return this.#socket.close();
    const { channel, control, batch, since, epoch, expiresAt, reservation } =
      terms;
    const last = this.#clientId && (control || since !== undefined)
      ? this.#lastCloses.take(this.#clientId, channel)
      : undefined;
    try {
      this.#session = hub.open(new WebSocketSink(this.#socket, this.#pacer), {
        remote: this.#remote,
        channel,
        control,
        batch,
        ...(since === undefined ? {} : { since }),
        ...(epoch === undefined ? {} : { epoch }),
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...(last === undefined ? {} : { notices: [last] }),
        ...(reservation.replayDone
          ? { replayDone: reservation.replayDone }
          : {}),
      });
    } catch (err) {
      // Not expected: the channel was held since admission.
      reservation.release();
      hub.reject("too_many_channels");
      this.#socket.close(
        CLOSE_CODES.channel_limit.code,
        fitCloseReason((err as Error).message),
      );
      return;
    }
    reservation.opened();
    if (this.#clientId && !this.#session.closed) {
      this.#lastCloses.bind(this.#session.id, this.#clientId);
    }
    this.#remote = "";
  }
}
