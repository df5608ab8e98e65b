/**
 * Why a connection attempt failed, in one line a user can act on: nothing
 * listening, a name that does not resolve, a TLS problem, or the server's
 * refusal (401, 403, 503, …) with the reason it gave. Deno's WebSocket
 * error names a refused upgrade's status but not its body, so for those a
 * preflight `fetch` with the same URL and upgrade headers reads the
 * server's JSON `{"error": …}`.
 *
 * @module
 */

/** What a status means for a clientsim user, beside the server's own reason. */
const HINTS: Readonly<Record<number, string>> = {
  400: "check --channel and the URL's parameters",
  401: "pass --token with a subscriber token or JWT",
  403:
    "the token does not grant this channel, or the server's --allowed-origins refuses it",
  404: "check the --url path: subscribers connect at / or /ws",
  429: "the server is limiting connections: lower --concurrency",
  503:
    "the server is full or cannot take the channel now: lower --concurrency or try later",
};

/** A 503 whose reason says the node drains (a restart or deploy). */
const DRAINING_HINT =
  "the node is draining for a restart or deploy: point --url at another node, or retry once it is back";

/** How long the preflight that reads a refusal's reason may take, ms. */
export const PREFLIGHT_TIMEOUT_MS = 3_000;

/**
 * Explains a failed connection attempt.
 *
 * @param url the URL that was tried
 * @param error what the WebSocket reported
 * @param fetchFn how to fetch (tests may pass their own) @default fetch
 * @returns one line, e.g. `401 Unauthorized: missing credentials: … (pass --token TOKEN)`
 */
export async function explainConnectError(
  url: string,
  error: unknown,
  fetchFn: typeof fetch = fetch,
): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
  const detail = message.replace(/^failed to connect to WebSocket: /, "");
  const target = new URL(url);
  const where = target.host;
  const status = /Invalid status code:? (\d{3})/.exec(detail)?.[1];
  if (status !== undefined) {
    return await refusal(target, Number(status), fetchFn);
  }
  if (/tcp connect error|connection refused|ECONNREFUSED/i.test(detail)) {
    return `connection refused: nothing is listening at ${where} (is the server running? check --url)`;
  }
  if (/dns error|failed to lookup|Name or service not known/i.test(detail)) {
    return `cannot resolve host ${target.hostname} (check --url)`;
  }
  if (/InvalidContentType|corrupt message/i.test(detail)) {
    return `TLS handshake failed at ${where}: the server does not speak TLS (use ws:// or start it with --cert and --key)`;
  }
  if (/certificate|UnknownIssuer|tls|handshake/i.test(detail)) {
    return `TLS handshake failed at ${where}: ${detail} (trust the server's CA with DENO_CERT=ca.pem or --cert for a private CA)`;
  }
  return `cannot connect to ${where}: ${detail}`;
}

async function refusal(
  target: URL,
  status: number,
  fetchFn: typeof fetch,
): Promise<string> {
  const http = new URL(target);
  http.protocol = target.protocol === "wss:" ? "https:" : "http:";
  let reason = "";
  let statusText = "";
  try {
    const res = await fetchFn(http, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": "ZmFub3V0LWNsaWVudHNpbQ==",
      },
      signal: AbortSignal.timeout(PREFLIGHT_TIMEOUT_MS),
    });
    statusText = res.statusText;
    const text = await res.text();
    try {
      const body = JSON.parse(text);
      if (typeof body?.error === "string") reason = body.error;
    } catch {
      reason = text.trim().split("\n")[0]!.slice(0, 200);
    }
  } catch { /* the reason stays unknown; the status still says a lot */ }
  // A draining node's 503 is not a full one: the clients belong elsewhere.
  const hint = status === 503 && /draining/.test(reason)
    ? DRAINING_HINT
    : HINTS[status];
  return `${status}${statusText ? ` ${statusText}` : ""}${
    reason ? `: ${reason}` : ""
  }${hint ? ` (${hint})` : ""}`;
}
