/**
 * The server's own accept loop, in front of the HTTP handler: what
 * `Deno.serve` cannot do in Deno 2.9.
 *
 * - **Out of file descriptors.** `Deno.serve`'s accept loop ends the process
 *   on EMFILE. Here `accept()` errors are caught: the loop backs off (10 ms
 *   doubling to 1 s), keeps one spare descriptor so it can take the waiting
 *   connection and close it at once (a refusal, counted as `fd_limit`)
 *   instead of leaving it hanging in the backlog, and carries on when
 *   descriptors free up. Connected clients never notice.
 * - **Slow or silent connections (slowloris).** Every connection must
 *   complete its TLS handshake and send a complete request head within the
 *   handshake timeout; an idle keep-alive connection gets the same time for
 *   its next request. Otherwise it is closed (`handshake_timeout`).
 *   Connections waiting like this are capped (`maxPending`): at the cap the
 *   loop stops accepting, so new connections wait in the kernel's backlog
 *   (no descriptor, no memory here) until one of them is served or closed.
 *   A burst of honest clients is slowed down, never refused.
 *
 * Each connection is served by `Deno.serveHttp` (present in Deno 2.9, no
 * longer in its type declarations), which hands requests over one at a time,
 * so the loop knows when a request head is complete, and closes a connection
 * on demand. Where the runtime lacks it, the listener falls back to
 * `Deno.serve` and says once that these protections are off.
 *
 * - **Ambiguous length.** A request with both Content-Length and
 *   Transfer-Encoding is answered 400 and its connection closed.
 *
 * What stays out of reach (see README, "Limits"): a TLS connection that never
 * sends its ClientHello cannot be closed from Deno (it holds a descriptor
 * until the peer goes), so TLS is best terminated in front of the server.
 *
 * @module
 */
import type { Logger } from "../core/logger.ts";
import type { Handler } from "./router.ts";

/** Accept back-off after an error, ms: doubles from the first to the last. */
export const ACCEPT_BACKOFF_MS = { first: 10, max: 1000 } as const;
/** Connections the kernel queues for the accept loop (Deno.serve's is 511). */
export const TCP_BACKLOG = 1024;
/** At most one log line per this many ms for each kind of trouble. */
export const TROUBLE_LOG_INTERVAL_MS = 10_000;

/** Options of {@link listen}. */
export interface ListenOptions {
  /** Interface to listen on. */
  readonly hostname: string;
  /** TCP port; 0 picks one. */
  readonly port: number;
  /** PEM certificate and key: serve TLS. */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
  /** Let several processes listen on the port (Linux `SO_REUSEPORT`). @default false */
  readonly reusePort?: boolean;
  /** How long a connection may take to send a complete request head (and finish TLS), ms. */
  readonly handshakeTimeoutMs: number;
  /** Connections waiting for a request head at once; at the cap, accepting pauses. */
  readonly maxPending: number;
  /** Counts a connection refused or closed before it made a request (`fanout_rejections_total`). */
  readonly reject: (label: string) => void;
  /** Where trouble is reported, at most once per {@link TROUBLE_LOG_INTERVAL_MS} per kind. */
  readonly logger: Logger;
  /** Opens the spare descriptor kept for refusing connections at the fd limit. @default opens /dev/null */
  readonly spareFd?: () => Disposable | undefined;
  /** Answers a request whose handler threw (and reports it). @default logs it and answers a JSON 500 */
  readonly onError?: (error: unknown) => Response;
  /** The per-connection HTTP server; `null` forces the `Deno.serve` fallback (tests). @default Deno.serveHttp */
  readonly serveHttp?: ServeHttp | null;
}

/** A listening server. */
export interface Listener {
  /** The address bound. */
  readonly addr: Deno.NetAddr;
  /** Connections accepted that have not made a complete request yet (or idle between requests). */
  readonly pending: number;
  /** Whether connections are protected (own accept loop), or served by the `Deno.serve` fallback. */
  readonly guarded: boolean;
  /**
   * Stops accepting, closes every connection that is not serving a request,
   * and resolves once the requests in flight have been answered (WebSocket
   * connections are not waited for: their sessions close them).
   */
  shutdown(): Promise<void>;
}

/** The part of Deno's legacy per-connection HTTP server used here. */
export interface HttpConn {
  nextRequest(): Promise<RequestEvent | null>;
  close(): void;
}
/** One request of an {@link HttpConn}. */
export interface RequestEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): Promise<void>;
}
/** Deno's legacy `Deno.serveHttp`: one connection's requests, one at a time. */
export type ServeHttp = (conn: Deno.Conn) => HttpConn;

function legacyServeHttp(): ServeHttp | undefined {
  const fn = (Deno as unknown as { serveHttp?: ServeHttp }).serveHttp;
  return typeof fn === "function" ? fn.bind(Deno) : undefined;
}

/** Logs a handler's error and answers a JSON 500. */
function defaultOnError(logger: Logger): (error: unknown) => Response {
  return (err) => {
    const message = String((err as Error)?.message ?? err);
    logger.log(
      { type: "http_error", error: message },
      `[http] handler failed: ${message}`,
    );
    return Response.json({ error: "internal error" }, { status: 500 });
  };
}

/** True for the errors that mean "no descriptor left" (EMFILE, ENFILE). */
export function isFdExhaustion(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (code === "EMFILE" || code === "ENFILE") return true;
  return /too many open files/i.test(String((err as Error)?.message ?? err));
}

/**
 * Counts trouble by kind and logs it at most once per interval: the first
 * time at once, then a summary line for what happened since.
 */
class TroubleLog {
  readonly #logger: Logger;
  readonly #counts = new Map<string, number>();
  readonly #lastAt = new Map<string, number>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #describe: (kind: string, count: number) => string;

  constructor(
    logger: Logger,
    describe: (kind: string, count: number) => string,
  ) {
    this.#logger = logger;
    this.#describe = describe;
  }

  note(kind: string): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    if (this.#timers.has(kind)) return;
    const last = this.#lastAt.get(kind) ?? -Infinity;
    const wait = last + TROUBLE_LOG_INTERVAL_MS - performance.now();
    if (wait <= 0) return this.#flush(kind);
    const timer = setTimeout(() => {
      this.#timers.delete(kind);
      this.#flush(kind);
    }, wait);
    Deno.unrefTimer(timer);
    this.#timers.set(kind, timer);
  }

  #flush(kind: string): void {
    const count = this.#counts.get(kind) ?? 0;
    if (count === 0) return;
    this.#counts.set(kind, 0);
    this.#lastAt.set(kind, performance.now());
    this.#logger.log(
      { type: "listener", trouble: kind, count },
      `[listener] ${this.#describe(kind, count)}`,
    );
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}

function describeTrouble(kind: string, count: number): string {
  switch (kind) {
    case "fd_limit":
      return `out of file descriptors (EMFILE): ${count} connection(s) refused; raise ulimit -n or lower --max-clients`;
    case "accept_paused":
      return `accepting paused ${count} time(s): --max-pending connections already wait for their request; new ones wait in the backlog`;
    case "handshake_timeout":
      return `${count} connection(s) closed: no complete request within --handshake-timeout`;
    default:
      return `${kind}: ${count}`;
  }
}

function openDevNull(): Disposable | undefined {
  try {
    return Deno.openSync("/dev/null");
  } catch {
    return undefined;
  }
}

/**
 * Listens on `options.hostname:port` and serves `handler`.
 * @throws {Deno.errors.AddrInUse} and other listen errors, at once
 */
export function listen(options: ListenOptions, handler: Handler): Listener {
  const serveHttp = options.serveHttp === null
    ? undefined
    : options.serveHttp ?? legacyServeHttp();
  if (!serveHttp) return fallback(options, handler);
  const onError = options.onError ?? defaultOnError(options.logger);
  const base = {
    hostname: options.hostname,
    port: options.port,
    tcpBacklog: TCP_BACKLOG,
    ...(options.reusePort ? { reusePort: true } : {}),
  };
  // No ALPN: offering only http/1.1 makes rustls refuse a client whose offer
  // it does not share (NoApplicationProtocol) before certificates are even
  // checked; without it every client falls back to HTTP/1.1.
  const listener: Deno.Listener = options.tls
    ? Deno.listenTls({
      ...base,
      cert: options.tls.cert,
      key: options.tls.key,
    })
    : Deno.listen(base);
  const trouble = new TroubleLog(options.logger, describeTrouble);
  const waiting = new Set<Deno.Conn | HttpConn>();
  const serving = new Set<Promise<void>>();
  let closed = false;
  let pending = 0;
  /** Resumes an accept loop paused at --max-pending. */
  let wakeAccept: (() => void) | undefined;
  const openSpare = options.spareFd ?? openDevNull;
  let spare = openSpare();

  const refuse = (label: string) => {
    options.reject(label);
    trouble.note(label);
  };

  /** One connection, from accept to upgrade or end. */
  const serve = async (conn: Deno.Conn) => {
    const remoteAddr = conn.remoteAddr as Deno.NetAddr;
    let http: HttpConn | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let counted = false;
    /** Starts the wait for a request head (or a TLS handshake). */
    const await_ = () => {
      counted = true;
      pending++;
      waiting.add(http ?? conn);
      timer = setTimeout(() => {
        timer = undefined;
        refuse("handshake_timeout");
        closeQuietly(http ?? conn);
      }, options.handshakeTimeoutMs);
    };
    /** A request head arrived: the connection is no longer waiting. */
    const arrived = () => {
      clearTimeout(timer);
      timer = undefined;
      if (counted) {
        pending--;
        if (pending < options.maxPending) wakeAccept?.();
      }
      counted = false;
      waiting.delete(http ?? conn);
      waiting.delete(conn);
    };
    try {
      await_();
      if (options.tls) await (conn as Deno.TlsConn).handshake();
      if (timer === undefined) return; // timed out during the handshake
      http = serveHttp(conn);
      waiting.delete(conn);
      waiting.add(http);
      while (!closed) {
        const event = await http.nextRequest();
        if (!event) break;
        arrived();
        const info = {
          remoteAddr,
          completed: Promise.resolve(),
        } as Deno.ServeHandlerInfo<Deno.NetAddr>;
        const smuggling = ambiguousLength(event.request);
        if (smuggling) {
          // RFC 9112 §6.1: such a message may be read two ways (request
          // smuggling); answer and close, reading nothing more from it.
          await event.respondWith(smuggling).catch(() => {});
          await linger(http, "request refused: connection closing");
          return;
        }
        let response: Response;
        try {
          response = await handler(event.request, info);
        } catch (err) {
          response = onError(err);
        }
        const upgraded = response.status === 101;
        await event.respondWith(response).catch(() => {});
        // The WebSocket owns the connection now (closing the HTTP side
        // releases its state and leaves the WebSocket open).
        if (upgraded) return;
        if (closed) {
          // respondWith resolves before the body's tail is on the wire:
          // closing now would cut a stream's last event (an SSE close).
          await linger(http);
          return;
        }
        await_();
      }
    } catch {
      // The peer went, or sent something that is not HTTP: nothing to answer.
    } finally {
      arrived();
      closeQuietly(http ?? conn);
    }
  };

  const acceptLoop = async () => {
    let backoff = 0;
    while (!closed) {
      if (pending >= options.maxPending) {
        trouble.note("accept_paused");
        await new Promise<void>((resolve) => (wakeAccept = resolve));
        wakeAccept = undefined;
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        backoff = 0;
      } catch (err) {
        if (closed || err instanceof Deno.errors.BadResource) break;
        if (isFdExhaustion(err)) {
          // Took one with the spare descriptor: try the next at once.
          if (await refuseWithSpare()) continue;
          refuse("fd_limit");
        } else trouble.note("accept_error");
        backoff = Math.min(
          backoff ? backoff * 2 : ACCEPT_BACKOFF_MS.first,
          ACCEPT_BACKOFF_MS.max,
        );
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      serveConn(conn);
    }
  };

  /** Serves `conn`, tracked until it ends (for shutdown). */
  const serveConn = (conn: Deno.Conn) => {
    const done = serve(conn);
    serving.add(done);
    done.finally(() => serving.delete(done));
  };

  /**
   * At the fd limit: gives up the spare descriptor, takes the waiting
   * connection with it and closes it at once (the peer sees a refusal, not a
   * hang), then takes the spare back. Without a spare, the connection waits
   * in the backlog until a descriptor frees up. The accept may return a
   * connection that came after the episode ended (the one that hit the limit
   * went away meanwhile): when the spare can be taken back while that
   * connection is still held, descriptors are free again and it is served.
   * @returns whether a connection was taken (refused or served)
   */
  const refuseWithSpare = async (): Promise<boolean> => {
    if (!spare) {
      spare = openSpare();
      return false;
    }
    spare[Symbol.dispose]();
    spare = undefined;
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch {
      spare = closed ? undefined : openSpare();
      return false;
    }
    spare = closed ? undefined : openSpare();
    if (spare && !closed) {
      serveConn(conn); // room for both: the episode is over
      return true;
    }
    refuse("fd_limit");
    closeQuietly(conn);
    if (!spare && !closed) spare = openSpare();
    return true;
  };

  const loop = acceptLoop();
  return {
    addr: listener.addr as Deno.NetAddr,
    get pending() {
      return pending;
    },
    guarded: true,
    async shutdown() {
      if (!closed) {
        closed = true;
        wakeAccept?.();
        closeQuietly(listener);
        for (const c of waiting) closeQuietly(c);
        waiting.clear();
        trouble.close();
        spare?.[Symbol.dispose]();
        spare = undefined;
      }
      await loop;
      await Promise.all(serving);
    },
  };
}

/**
 * A 400 for a request that gives both Content-Length and Transfer-Encoding
 * (its length is ambiguous), or undefined for any other request.
 */
export function ambiguousLength(req: Request): Response | undefined {
  if (
    !req.headers.has("content-length") ||
    !req.headers.has("transfer-encoding")
  ) return undefined;
  return Response.json({
    error:
      "both Content-Length and Transfer-Encoding given: send one (RFC 9112 §6.1)",
  }, { status: 400, headers: { connection: "close" } });
}

function closeQuietly(thing: { close(): void }): void {
  try {
    thing.close();
  } catch {
    // Already closed.
  }
}

/** At shutdown, how long a connection whose response just ended may finish sending it, ms. */
export const SHUTDOWN_LINGER_MS = 250;

/**
 * Waits until the peer closes `http` or {@link SHUTDOWN_LINGER_MS} pass; a
 * request that arrives meanwhile gets a 503 saying `why`.
 */
async function linger(
  http: HttpConn,
  why = "server shutting down",
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    http.nextRequest().then((event) => {
      // A request that arrives now is told the server is going.
      event?.respondWith(
        Response.json({ error: why }, { status: 503 }),
      ).catch(() => {});
    }).catch(() => {}),
    new Promise<void>((resolve) =>
      timer = setTimeout(resolve, SHUTDOWN_LINGER_MS)
    ),
  ]);
  clearTimeout(timer);
}

/** How long the `Deno.serve` fallback waits before listening again after its accept loop died, ms. */
export const RESERVE_DELAY_MS = 500;

/**
 * `Deno.serve`, chosen (`--listener serve`) or for a runtime without
 * `Deno.serveHttp`: no handshake timeout and no pending cap, and says so
 * once. Its accept loop ends on EMFILE; then it listens again on the same
 * port after {@link RESERVE_DELAY_MS} (connected clients keep being served;
 * new connections are refused meanwhile), counting `fd_limit`.
 */
function fallback(options: ListenOptions, handler: Handler): Listener {
  const trouble = new TroubleLog(options.logger, describeTrouble);
  // After the caller's `listening` line, which comes first.
  queueMicrotask(() =>
    options.logger.log(
      { type: "listener", trouble: "unguarded", count: 1 },
      options.serveHttp === null
        ? "[listener] --listener serve: Deno.serve's accept loop, without --handshake-timeout or --max-pending (put a proxy in front that enforces both)"
        : "[listener] this Deno has no Deno.serveHttp: serving with Deno.serve, without --handshake-timeout or --max-pending",
    )
  );
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const serveOn = (port: number): Deno.HttpServer<Deno.NetAddr> => {
    const server = Deno.serve({
      hostname: options.hostname,
      port,
      ...(options.reusePort ? { reusePort: true } : {}),
      onListen() {},
      onError: options.onError ?? defaultOnError(options.logger),
      ...(options.tls ?? {}),
    }, handler);
    server.finished.catch((err) => {
      if (closed) return;
      if (isFdExhaustion(err)) {
        options.reject("fd_limit");
        trouble.note("fd_limit");
      } else trouble.note("accept_error");
      const again = () => {
        timer = undefined;
        if (closed) return;
        try {
          current = serveOn(server.addr.port);
        } catch {
          timer = setTimeout(again, RESERVE_DELAY_MS);
        }
      };
      timer = setTimeout(again, RESERVE_DELAY_MS);
    });
    return server;
  };
  let current = serveOn(options.port);
  return {
    addr: current.addr,
    pending: 0,
    guarded: false,
    async shutdown() {
      closed = true;
      clearTimeout(timer);
      trouble.close();
      await current.shutdown().catch(() => {});
    },
  };
}
