import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { base64url, SignJWT, UnsecuredJWT } from "jose";

import { createVerifier } from "../src/verify.js";
import { AUDIENCE, ISSUER, jwksServer, newKey, serve, sign, type Key } from "./support.js";

describe("createVerifier", () => {
  let key: Key;
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  before(async () => {
    key = await newKey("k1");
    jwks = await jwksServer([key]);
  });
  after(() => jwks.close());

  const verifier = (extra: { jwksCooldownMs?: number } = {}) =>
    createVerifier({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, ...extra });

  test("a token signed by a published key gives its user", async () => {
    const user = await verifier()(await sign(key));
    assert.ok(user);
    assert.equal(user.id, "7f0e4a52-user");
    assert.equal(user.username, "ada");
    assert.equal(user.email, "ada@example.com");
    assert.equal(user.sessionId, "0b3c5e9a-session");
    assert.ok(user.expiresAt.getTime() > Date.now());
  });

  test("tokens with the wrong issuer, audience, expiry or claims are refused", async () => {
    const verify = verifier();
    const refused = [
      await sign(key, { iss: "someone-else" }),
      await sign(key, { aud: "another-app" }),
      await sign(key, {}, -60),
      await sign(key, { sid: undefined }),
      await sign(key, { username: 42 }),
      await sign(key, { sub: undefined }),
    ];
    for (const token of refused) {
      assert.equal(await verify(token), null, token);
    }
  });

  test("a tampered, malformed or unsigned token is refused", async () => {
    const verify = verifier();
    const token = await sign(key);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const flipped = (signature.startsWith("A") ? "B" : "A") + signature.slice(1);
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
    const promoted = base64url.encode(JSON.stringify({ ...claims, username: "root" }));
    const unsigned = new UnsecuredJWT({ sub: "x", sid: "s", username: "a", email: "e" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .encode();
    for (const bad of [
      `${header}.${payload}.${flipped}`,
      `${header}.${promoted}.${signature}`,
      unsigned,
      "not a token",
      "",
      "a.b.c",
    ]) {
      assert.equal(await verify(bad), null, bad);
    }
  });

  test("an HS256 token keyed with the public key is refused: the algorithm is pinned", async () => {
    const publicBytes = base64url.decode(key.publicJwk.x ?? "");
    const confused = await new SignJWT({ sid: "s", username: "ada", email: "e" })
      .setProtectedHeader({ alg: "HS256", kid: key.kid })
      .setSubject("u")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(publicBytes);
    assert.equal(await verifier()(confused), null);
  });

  test("the JWKS is fetched once and cached", async () => {
    const own = await newKey("cached");
    const server = await jwksServer([own]);
    try {
      const verify = createVerifier({ jwksUrl: server.url, issuer: ISSUER, audience: AUDIENCE });
      for (let i = 0; i < 5; i += 1) {
        assert.ok(await verify(await sign(own)));
      }
      assert.equal(server.fetches(), 1);
    } finally {
      await server.close();
    }
  });

  test("a token naming an unknown key fetches the JWKS again, and a new key is found", async () => {
    const first = await newKey("old");
    const keys = [first];
    const server = await jwksServer(keys);
    try {
      const verify = createVerifier({
        jwksUrl: server.url,
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksCooldownMs: 0,
      });
      assert.ok(await verify(await sign(first)));
      const next = await newKey("new");
      keys.push(next);
      assert.ok(await verify(await sign(next)), "the rotated key is fetched");
      assert.equal(server.fetches(), 2);
      const unpublished = await newKey("forged");
      assert.equal(await verify(await sign(unpublished)), null);
    } finally {
      await server.close();
    }
  });

  test("forged key ids within the cool-down do not each fetch the JWKS", async () => {
    const own = await newKey("real");
    const server = await jwksServer([own]);
    try {
      const verify = createVerifier({ jwksUrl: server.url, issuer: ISSUER, audience: AUDIENCE });
      assert.ok(await verify(await sign(own)));
      for (let i = 0; i < 5; i += 1) {
        assert.equal(await verify(await sign(await newKey(`forged-${i}`))), null);
      }
      assert.equal(server.fetches(), 1);
    } finally {
      await server.close();
    }
  });

  test("an unreachable JWKS is an error, not an anonymous visitor", async () => {
    const gone = await serve((_q, r) => r.end());
    await gone.close();
    const verify = createVerifier({
      jwksUrl: `${gone.url}/.well-known/jwks.json`,
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    await assert.rejects(verify(await sign(key)));
  });

  test("in compatibility mode HS256 tokens verify with the shared secret and EdDSA ones do not", async () => {
    const secret = new TextEncoder().encode("s".repeat(48));
    const verify = createVerifier({
      jwksUrl: jwks.url,
      issuer: ISSUER,
      audience: AUDIENCE,
      hs256Secret: secret,
    });
    const hs = await new SignJWT({ sid: "s", username: "ada", email: "ada@example.com", _id: "u" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject("u")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(secret);
    assert.equal((await verify(hs))?.id, "u");
    assert.equal(await verify(await sign(key)), null);
  });
});
