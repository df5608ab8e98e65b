/**
 * The admin token (`--admin-token`): what the dashboard, its feed
 * (`/events`: every client's address, the disconnect log) and `/metrics`
 * require when it is set. Scrapers send `Authorization: Bearer <token>`; a
 * browser opens `/?admin_token=<token>` once, gets an HttpOnly cookie and a
 * redirect to the same page without the token in its address, and from then
 * on its page, scripts and EventSource carry the cookie.
 *
 * `/healthz` and `/readyz` stay open (orchestrators probe them) and answer
 * only their status to a request without the token.
 *
 * @module
 */
import { bearerOf, safeEqual } from "./auth.ts";

/** The cookie a browser keeps the admin token in. */
export const ADMIN_COOKIE = "fanout_admin";
/** The query parameter a browser brings the admin token in, once. */
export const ADMIN_QUERY = "admin_token";

/** Whether `path` is an admin surface: the dashboard page and files, `/events`, `/metrics`. */
export function isAdminPath(path: string): boolean {
  return path === "/" || path === "/events" || path === "/metrics" ||
    path.startsWith("/dashboard/");
}

/** Decides on requests for admin surfaces. */
export interface AdminGate {
  /** Whether the request carries the admin token (header or cookie). */
  allows(req: Request): boolean;
  /**
   * Undefined when the request may go on; otherwise the answer: 401, or a
   * redirect that sets the cookie for a valid `?admin_token=`.
   */
  check(req: Request, url: URL): Response | undefined;
}

/** Options of {@link adminGate}. */
export interface AdminGateOptions {
  /** The token (`--admin-token`). */
  readonly token: string;
  /** Served over TLS: the cookie is marked `Secure`. */
  readonly secure: boolean;
  /** Counts a refusal (`fanout_rejections_total{reason="admin_unauthorized"}`). */
  readonly reject: (label: string) => void;
}

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined; // not percent-encoding: no token (a 401)
      }
    }
  }
  return undefined;
}

/**
 * The gate for `options.token`.
 *
 * @example
 * ```ts
 * import { adminGate } from "./admin.ts";
 * const gate = adminGate({ token: "t", secure: false, reject() {} });
 * const url = new URL("http://x/metrics");
 * if (gate.check(new Request(url), url)?.status !== 401) throw new Error();
 * const ok = new Request(url, { headers: { authorization: "Bearer t" } });
 * if (gate.check(ok, url) !== undefined) throw new Error();
 * ```
 */
export function adminGate(options: AdminGateOptions): AdminGate {
  const matches = (value: string | undefined) =>
    value !== undefined && safeEqual(value, options.token);
  const allows = (req: Request) =>
    matches(bearerOf(req)) || matches(cookieOf(req, ADMIN_COOKIE));
  return {
    allows,
    check(req, url) {
      if (allows(req)) return undefined;
      const given = url.searchParams.get(ADMIN_QUERY);
      if (given !== null && matches(given)) {
        const clean = new URL(url);
        clean.searchParams.delete(ADMIN_QUERY);
        return new Response(null, {
          status: 303,
          headers: {
            location: clean.pathname + clean.search,
            "set-cookie": `${ADMIN_COOKIE}=${
              encodeURIComponent(options.token)
            }; Path=/; HttpOnly; SameSite=Strict${
              options.secure ? "; Secure" : ""
            }`,
            "cache-control": "no-store",
          },
        });
      }
      options.reject("admin_unauthorized");
      return Response.json({
        error:
          `admin credentials required: send Authorization: Bearer <admin token>, or open /?${ADMIN_QUERY}=<admin token> once in a browser`,
      }, {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="fanout admin"' },
      });
    },
  };
}
