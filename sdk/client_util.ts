/**
 * Small helpers of {@link import("./client.ts").FanoutClient}: the delay for
 * a server's retry hint, a URL without its token, a random client id.
 *
 * @module
 */

/**
 * The delay for a server's `retry_in_ms` hint: the hint plus up to a
 * quarter more at random (at most 2 s more), so clients the server gave the
 * same hint still spread.
 */
export function spread(hintMs: number, random: () => number): number {
  return Math.round(hintMs + Math.min(hintMs / 4, 2_000) * random());
}

/** `url` with the value of `token=` replaced by `***`, for events and logs. */
export function redactToken(url: string): string {
  const u = new URL(url);
  if (u.searchParams.has("token")) u.searchParams.set("token", "***");
  return u.href;
}

/** A random client id: 18 URL-safe characters (96 random bits and 4 more). */
export function randomId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  const alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let id = "";
  for (const b of bytes) id += alphabet[b & 63];
  return id + alphabet[bytes[0]! >> 6]! + alphabet[bytes[1]! >> 6]!;
}
