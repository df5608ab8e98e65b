/**
 * Subscribers over WebSocket: the router (router.ts) hands this handler the
 * requests on `/` and `/ws`. An upgrade is checked (a well-formed upgrade),
 * admitted and opened through the {@link SubscriberGate} shared with SSE,
 * and its socket's events go to the hub; a plain request gets the 426 hint.
 * The only file that upgrades to Deno's WebSocket.
 *
 * @module
 */
import { remoteLabel } from "./client_label.ts";
import { CLOSE_CODES, fitCloseReason } from "../../lib/close_codes.ts";
import type { Session } from "../core/session.ts";
import type { Admitted } from "./admission.ts";
import type { SubscriberGate } from "./subscriber_gate.ts";
import { guardWebSocketMessages } from "./ws_message_guard.ts";
import { WebSocketSink } from "./websocket_sink.ts";

/** Options of {@link createWebSocketHandler}. */
export interface WebSocketOptions {
  /** Deno's ping idle timeout, seconds (0 disables): a silent peer is pinged after half, closed after all of it. */
  readonly idleTimeoutSeconds: number;
  /** How long an admitted upgrade may take to open before its slot is given back, ms. @default 5000 */
  readonly openTimeoutMs?: number;
  /** Where the open sockets are kept, for a graceful shutdown. @default a registry of its own */
  readonly sockets?: OpenSockets;
  /** Whether the 426 hint may say the mode and the client count (false when admin pages are protected). @default true */
  readonly revealCounts?: boolean;
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

/** Builds the handler of `/` and `/ws`: WebSocket subscribers, and the 426 hint for anything else. */
export function createWebSocketHandler(
  gate: SubscriberGate,
  options: WebSocketOptions,
): (
  req: Request,
  url: URL,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Promise<Response> {
  const { hub } = gate;
  // A client message over the runtime's limit cuts the client, not the process.
  guardWebSocketMessages();
  const sockets = options.sockets ?? new OpenSockets();
  const openTimeoutMs = options.openTimeoutMs ?? 5000;
  return async (req, url, info) => {
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
      return gate.refuse(
        400,
        `bad WebSocket upgrade: ${problem}`,
        "bad_upgrade",
      );
    }
    // remoteAddr must be read before the upgrade consumes the request.
    const addr = info.remoteAddr;
    const remote = remoteLabel(addr.hostname, addr.port, url);
    const terms = await gate.admit(req, url);
    if (terms instanceof Response) return terms;
    let upgrade;
    try {
      upgrade = Deno.upgradeWebSocket(req, {
        idleTimeout: options.idleTimeoutSeconds,
      });
    } catch (err) {
      terms.reservation.release();
      return gate.refuse(
        400,
        `bad WebSocket upgrade: ${(err as Error).message}`,
        "bad_upgrade",
      );
    }
    const { socket, response } = upgrade;
    new SocketEvents(socket, gate, sockets, remote, terms, openTimeoutMs);
    return response;
  };
}

/**
 * One subscriber's socket, from upgrade to close: opens its session, hands
 * the client's frames to the hub and tells the hub how the socket ended
 * (the hub closes sessions; this adapter only reports). One object is every
 * listener of the socket (`handleEvent`), and what only the opening needs
 * (the admission terms, the open timer) is let go once it opened: an idle
 * connection keeps as little as possible.
 */
class SocketEvents {
  readonly #socket: WebSocket;
  readonly #sockets: OpenSockets;
  readonly #gate: SubscriberGate;
  #remote: string;
  #terms: Admitted | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #session: Session | undefined;
  #error = "";

  constructor(
    socket: WebSocket,
    gate: SubscriberGate,
    sockets: OpenSockets,
    remote: string,
    terms: Admitted,
    openTimeoutMs: number,
  ) {
    this.#socket = socket;
    this.#sockets = sockets;
    this.#gate = gate;
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
        if (this.#session) {
          this.#gate.hub.receive(this.#session, (e as MessageEvent).data);
        }
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
        if (this.#session) {
          this.#gate.hub.peerClosed(this.#session, code, reason, this.#error);
        }
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
    return terms;
  }

  #open(): void {
    const expired = this.#terms === undefined;
    const terms = this.#letGo();
    if (expired || !terms) return this.#socket.close();
    const opened = this.#gate.open(
      new WebSocketSink(this.#socket, this.#gate.pacer),
      terms,
      this.#remote,
    );
    if (opened instanceof Error) {
      this.#socket.close(
        CLOSE_CODES.channel_limit.code,
        fitCloseReason(opened.message),
      );
      return;
    }
    this.#session = opened;
    this.#remote = "";
  }
}
