/** Test helper: signs HS256 JWTs the way an identity provider would. */

const b64url = (bytes: Uint8Array) =>
  bytes.toBase64({ alphabet: "base64url", omitPadding: true });
const enc = (v: unknown) => b64url(new TextEncoder().encode(JSON.stringify(v)));

/** A signed HS256 JWT with `claims`; `alg` can be overridden to forge bad headers. */
export async function signJwt(
  secret: string,
  claims: Record<string, unknown>,
  alg = "HS256",
): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const data = `${enc({ alg, typ: "JWT" })}.${enc(claims)}`;
  const sig = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)),
  );
  return `${data}.${b64url(sig)}`;
}
