import assert from "node:assert/strict";
import {
  credentialOf,
  safeEqual,
  SubscriberAuth,
} from "../server/http/auth.ts";
import { signJwt } from "./_jwt.ts";

const NOW = 1_800_000_000;
const SECRET = "s3cret-for-tests";

Deno.test("credentialOf() reads the bearer header first, then ?token=", () => {
  const url = new URL("http://x/?token=from-query");
  assert.equal(
    credentialOf(
      new Request(url, { headers: { authorization: "Bearer abc" } }),
      url,
    ),
    "abc",
  );
  assert.equal(credentialOf(new Request(url), url), "from-query");
  const bare = new URL("http://x/");
  assert.equal(
    credentialOf(
      new Request(bare, { headers: { authorization: "Basic abc" } }),
      bare,
    ),
    undefined,
  );
});

Deno.test("safeEqual() compares whole strings", () => {
  assert.equal(safeEqual("abc", "abc"), true);
  assert.equal(safeEqual("abc", "abd"), false);
  assert.equal(safeEqual("abc", "abcd"), false);
  assert.equal(safeEqual("", ""), true);
});

Deno.test("SubscriberAuth lets everyone in when nothing is configured", async () => {
  const auth = await SubscriberAuth.create({});
  assert.deepEqual(await auth.check(undefined, "any"), { ok: true });
});

Deno.test("SubscriberAuth with --token accepts it and refuses others with 401", async () => {
  const auth = await SubscriberAuth.create({ token: "t0ken" });
  assert.deepEqual(await auth.check("t0ken", "default"), { ok: true });
  assert.equal(
    (await auth.check("wrong", "default") as { status: number }).status,
    401,
  );
  assert.match(
    (await auth.check(undefined, "default") as { reason: string }).reason,
    /missing credentials/,
  );
});

Deno.test("SubscriberAuth verifies HS256 JWTs: signature, exp, nbf (numeric), lifetime, alg and the channels claim", async (t) => {
  const auth = await SubscriberAuth.create({
    jwtSecret: SECRET,
    nowSeconds: () => NOW,
  });
  const cases: [string, Promise<string>, string, number | "ok", RegExp?][] = [
    [
      "valid, no channels claim",
      signJwt(SECRET, { exp: NOW + 60 }),
      "any",
      "ok",
    ],
    [
      "valid, channel granted",
      signJwt(SECRET, { exp: NOW + 60, channels: ["prices"] }),
      "prices",
      "ok",
    ],
    [
      "valid, wildcard",
      signJwt(SECRET, { exp: NOW + 60, channels: ["*"] }),
      "chat",
      "ok",
    ],
    [
      "channel not granted",
      signJwt(SECRET, { exp: NOW + 60, channels: ["prices"] }),
      "chat",
      403,
      /does not grant channel chat/,
    ],
    ["expired", signJwt(SECRET, { exp: NOW - 1 }), "any", 401, /expired/],
    [
      "no exp",
      signJwt(SECRET, { sub: "x" }),
      "any",
      401,
      /exp claim \(a number\) is required/,
    ],
    [
      "exp not a number",
      signJwt(SECRET, { exp: String(NOW + 60) }),
      "any",
      401,
      /exp claim \(a number\) is required/,
    ],
    [
      "nbf not a number",
      signJwt(SECRET, { exp: NOW + 60, nbf: "soon" }),
      "any",
      401,
      /nbf must be a number/,
    ],
    [
      "lifetime over the maximum (a day by default)",
      signJwt(SECRET, { exp: NOW + 86_400 * 365 * 1000 }),
      "any",
      401,
      /--jwt-max-lifetime 86400/,
    ],
    [
      "not yet valid",
      signJwt(SECRET, { exp: NOW + 60, nbf: NOW + 30 }),
      "any",
      401,
      /nbf/,
    ],
    [
      "wrong secret",
      signJwt("other", { exp: NOW + 60 }),
      "any",
      401,
      /bad signature/,
    ],
    [
      "alg none",
      signJwt(SECRET, { exp: NOW + 60 }, "none"),
      "any",
      401,
      /only alg HS256/,
    ],
    [
      "bad channels claim",
      signJwt(SECRET, { exp: NOW + 60, channels: "prices" }),
      "prices",
      401,
      /channels must be a list/,
    ],
    ["garbage", Promise.resolve("a.b.c"), "any", 401],
    [
      "tampered payload",
      signJwt(SECRET, { exp: NOW + 60, channels: ["a"] }).then((j) => {
        const [h, , s] = j.split(".");
        const forged = new TextEncoder().encode(
          JSON.stringify({ exp: NOW + 60, channels: ["*"] }),
        ).toBase64({ alphabet: "base64url", omitPadding: true });
        return `${h}.${forged}.${s}`;
      }),
      "b",
      401,
      /bad signature/,
    ],
    [
      "base64 padding on the signature (RFC 7515 has none)",
      signJwt(SECRET, { exp: NOW + 60 }).then((j) => `${j}=`),
      "any",
      401,
      /padding/,
    ],
    [
      "issued in the future (iat past the clock skew)",
      signJwt(SECRET, { exp: NOW + 60, iat: NOW + 600 }),
      "any",
      401,
      /iat/,
    ],
    [
      "iat not a number",
      signJwt(SECRET, { exp: NOW + 60, iat: "now" }),
      "any",
      401,
      /iat must be a number/,
    ],
    [
      "valid, iat within the clock skew",
      signJwt(SECRET, { exp: NOW + 60, iat: NOW + 5 }),
      "any",
      "ok",
    ],
  ];
  for (const [name, jwt, channel, want, reason] of cases) {
    await t.step(name, async () => {
      const got = await auth.check(await jwt, channel);
      if (want === "ok") {
        return assert.deepEqual(got, { ok: true, expiresAt: NOW + 60 });
      }
      assert.equal(got.ok, false);
      assert.equal((got as { status: number }).status, want);
      if (reason) assert.match((got as { reason: string }).reason, reason);
    });
  }
});
