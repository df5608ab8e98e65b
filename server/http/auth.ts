/**
 * Who may subscribe and who may publish: a static bearer token, or an HS256
 * JWT (Web Crypto) with `exp` and an optional `channels` claim. A JWT's
 * segments are unpadded base64url (RFC 7515); `nbf` and `iat` must not lie
 * in the future (`iat` within {@link JWT_CLOCK_SKEW_SECONDS}).
 *
 * @module
 */

/** The outcome of an authorization check. */
export type AuthResult =
  | {
    readonly ok: true;
    /** When the credential expires, epoch seconds (a JWT's `exp`); absent when it does not. */
    readonly expiresAt?: number;
  }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

const OK: AuthResult = Object.freeze({ ok: true });

/** Longest JWT lifetime accepted unless configured otherwise, seconds (a day). */
export const DEFAULT_JWT_MAX_LIFETIME_SECONDS = 86_400;

/** How far a JWT's `iat` may lie ahead of this clock (clock skew), seconds. */
export const JWT_CLOCK_SKEW_SECONDS = 60;

/** The `Authorization: Bearer X` credential of a request, if any. */
export function bearerOf(req: Request): string | undefined {
  const header = req.headers.get("authorization");
  return header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
}

/**
 * A subscriber's credential: `Authorization: Bearer X`, else `?token=X`
 * (browsers cannot set headers on a WebSocket). Publishers use
 * {@link bearerOf} only: a token in a URL ends up in proxy and access logs.
 */
export function credentialOf(req: Request, url: URL): string | undefined {
  return bearerOf(req) ?? url.searchParams.get("token") ?? undefined;
}

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  }
  return diff === 0;
}

function decodeSegment(segment: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(segment, {
    alphabet: "base64url",
  }) as Uint8Array<ArrayBuffer>;
}

function parseJsonSegment(
  segment: string,
): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(decodeSegment(segment)));
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@link SubscriberAuth}. */
export interface SubscriberAuthOptions {
  /** Static token that lets a subscriber in (`--token`). */
  readonly token?: string | undefined;
  /** HS256 secret for JWTs (`--jwt-secret`). */
  readonly jwtSecret?: string | undefined;
  /** Current time, epoch seconds (for `exp`). @default Date.now() / 1000 */
  readonly nowSeconds?: () => number;
  /** Longest lifetime (`exp` − now) a JWT may claim, seconds. @default DEFAULT_JWT_MAX_LIFETIME_SECONDS */
  readonly maxLifetimeSeconds?: number;
}

/**
 * Checks subscribers. With neither a token nor a secret configured, everyone
 * may subscribe; with either, a request must present one that verifies.
 */
export class SubscriberAuth {
  readonly #token: string | undefined;
  readonly #key: CryptoKey | undefined;
  readonly #now: () => number;
  readonly #maxLifetime: number;

  private constructor(
    token: string | undefined,
    key: CryptoKey | undefined,
    now: () => number,
    maxLifetime: number,
  ) {
    this.#token = token;
    this.#key = key;
    this.#now = now;
    this.#maxLifetime = maxLifetime;
  }

  /** Builds the checker, importing the HMAC key once. */
  static async create(options: SubscriberAuthOptions): Promise<SubscriberAuth> {
    const key = options.jwtSecret === undefined
      ? undefined
      : await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(options.jwtSecret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
    return new SubscriberAuth(
      options.token,
      key,
      options.nowSeconds ?? (() => Date.now() / 1000),
      options.maxLifetimeSeconds ?? DEFAULT_JWT_MAX_LIFETIME_SECONDS,
    );
  }

  /** Whether any check is configured. */
  get required(): boolean {
    return this.#token !== undefined || this.#key !== undefined;
  }

  /**
   * Decides whether `credential` may subscribe to `channel`.
   * @returns ok, or the HTTP status and a reason for the refusal
   */
  async check(
    credential: string | undefined,
    channel: string,
  ): Promise<AuthResult> {
    if (!this.required) return OK;
    if (credential === undefined) {
      return {
        ok: false,
        status: 401,
        reason:
          "missing credentials: send Authorization: Bearer <token> or ?token=",
      };
    }
    if (this.#token !== undefined && safeEqual(credential, this.#token)) {
      return OK;
    }
    if (this.#key === undefined || credential.split(".").length !== 3) {
      return { ok: false, status: 401, reason: "invalid token" };
    }
    return await this.#checkJwt(credential, channel);
  }

  async #checkJwt(jwt: string, channel: string): Promise<AuthResult> {
    const [head, body, sig] = jwt.split(".") as [string, string, string];
    if (jwt.includes("=")) {
      return {
        ok: false,
        status: 401,
        reason: "invalid JWT: base64url padding (=) is not allowed (RFC 7515)",
      };
    }
    const header = parseJsonSegment(head);
    if (header?.alg !== "HS256") {
      return {
        ok: false,
        status: 401,
        reason: "invalid JWT: only alg HS256 is accepted",
      };
    }
    let valid = false;
    try {
      valid = await crypto.subtle.verify(
        "HMAC",
        this.#key!,
        decodeSegment(sig),
        new TextEncoder().encode(`${head}.${body}`),
      );
    } catch {
      valid = false;
    }
    if (!valid) {
      return { ok: false, status: 401, reason: "invalid JWT: bad signature" };
    }
    const claims = parseJsonSegment(body);
    const exp = claims?.exp;
    if (typeof exp !== "number" || !Number.isFinite(exp)) {
      return {
        ok: false,
        status: 401,
        reason: "invalid JWT: an exp claim (a number) is required",
      };
    }
    const now = this.#now();
    if (exp <= now) {
      return { ok: false, status: 401, reason: "JWT expired" };
    }
    if (exp - now > this.#maxLifetime) {
      return {
        ok: false,
        status: 401,
        reason:
          `JWT lifetime over --jwt-max-lifetime ${this.#maxLifetime} s: issue shorter-lived tokens`,
      };
    }
    const nbf = claims!.nbf;
    if (
      nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf))
    ) {
      return {
        ok: false,
        status: 401,
        reason: "invalid JWT: nbf must be a number",
      };
    }
    if (nbf !== undefined && nbf > now) {
      return { ok: false, status: 401, reason: "JWT not yet valid (nbf)" };
    }
    const iat = claims!.iat;
    if (
      iat !== undefined && (typeof iat !== "number" || !Number.isFinite(iat))
    ) {
      return {
        ok: false,
        status: 401,
        reason: "invalid JWT: iat must be a number",
      };
    }
    if (iat !== undefined && iat > now + JWT_CLOCK_SKEW_SECONDS) {
      return {
        ok: false,
        status: 401,
        reason: "JWT issued in the future (iat): check the issuer's clock",
      };
    }
    const granted: AuthResult = { ok: true, expiresAt: exp };
    const channels = claims!.channels;
    if (channels === undefined) return granted;
    if (
      !Array.isArray(channels) || !channels.every((c) => typeof c === "string")
    ) {
      return {
        ok: false,
        status: 401,
        reason: "invalid JWT: channels must be a list of names",
      };
    }
    return channels.includes(channel) || channels.includes("*") ? granted : {
      ok: false,
      status: 403,
      reason: `JWT does not grant channel ${channel}`,
    };
  }
}
