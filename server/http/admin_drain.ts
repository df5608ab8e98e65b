/**
 * `POST /admin/drain`: the drain SIGTERM starts, asked for over HTTP (an
 * orchestrator or an operator that cannot send a signal). The first request
 * starts it — `/readyz` 503 at once, no new subscriber, the connected ones
 * closed with 1012 and a spread retry hint over `--drain-ms` — and answers
 * 202 with what will happen; `fanout server` then stops once the drain is
 * over, exactly as after SIGTERM. A second request (or a SIGTERM) finishes
 * the drain at once, like a second SIGTERM.
 *
 * It changes what the node does, so it needs the admin token
 * (`Authorization: Bearer`, or the dashboard's cookie) and is refused (403)
 * on a server started without `--admin-token`, even where the read-only
 * admin endpoints are open.
 *
 * @module
 */
import type { AdminGate } from "./admin.ts";
import { ADMIN_DRAIN_PATH } from "./paths.ts";

/** What the handler drives: the node's drain. */
export interface DrainControl {
  /** Whether a drain has started (by SIGTERM or a request). */
  readonly draining: boolean;
  /** Starts the drain over `--drain-ms` (the node stops once it is over). */
  start(): void;
  /** Closes every client left at once. */
  finishNow(): void;
  /** Whether the node is already stopping without a drain (nothing left to drain). */
  readonly stopping: boolean;
}

/** Options of {@link createAdminDrainHandler}. */
export interface AdminDrainOptions {
  /** The admin token's gate; none: the endpoint is refused (403). */
  readonly admin: AdminGate | undefined;
  /** The drain it starts or finishes. */
  readonly drain: DrainControl;
  /** `--drain-ms`, for the answer. */
  readonly drainMs: number;
  /** Clients connected now, for the answer. */
  readonly clients: () => number;
  /** Counts a refusal (`admin_unauthorized`). */
  readonly reject: (label: string) => void;
}

/**
 * Builds the `POST /admin/drain` handler.
 *
 * @example
 * ```ts
 * import { createAdminDrainHandler } from "./admin_drain.ts";
 * const handler = createAdminDrainHandler({
 *   admin: undefined,
 *   drain: { draining: false, stopping: false, start() {}, finishNow() {} },
 *   drainMs: 10_000,
 *   clients: () => 0,
 *   reject() {},
 * });
 * const res = handler(new Request("http://x/admin/drain", { method: "POST" }));
 * if (res.status !== 403) throw new Error(String(res.status));
 * ```
 */
export function createAdminDrainHandler(
  options: AdminDrainOptions,
): (req: Request) => Response {
  const { admin, drain, drainMs } = options;
  return (req) => {
    if (req.method !== "POST") {
      return Response.json(
        {
          error:
            `method ${req.method} not allowed on ${ADMIN_DRAIN_PATH}: use POST`,
        },
        { status: 405, headers: { allow: "POST" } },
      );
    }
    if (admin === undefined) {
      options.reject("admin_unauthorized");
      return Response.json({
        error:
          `${ADMIN_DRAIN_PATH} needs an admin token: start the server with --admin-token TOKEN and send Authorization: Bearer TOKEN (or send it SIGTERM)`,
      }, { status: 403 });
    }
    if (!admin.allows(req)) {
      options.reject("admin_unauthorized");
      return Response.json({
        error:
          "admin credentials required: send Authorization: Bearer <admin token>",
      }, {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="fanout admin"' },
      });
    }
    const clients = options.clients();
    if (drain.draining) {
      drain.finishNow();
      return Response.json({
        status: "finishing",
        clients,
        plan:
          `closing the ${clients} clients left now (1012 and a retry hint), then stopping`,
      }, { status: 202 });
    }
    if (drain.stopping) {
      return Response.json({
        error: "the server is already stopping: nothing left to drain",
      }, { status: 409 });
    }
    drain.start();
    return Response.json({
      status: "draining",
      clients,
      drain_ms: drainMs,
      plan:
        `refusing new subscribers (503) and /readyz 503 from now; closing the ${clients} clients with 1012 and a spread retry hint over ${drainMs} ms; then stopping. POST again or send SIGTERM to finish at once`,
    }, { status: 202 });
  };
}
