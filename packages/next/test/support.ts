/**
 * Real keys and a real JWKS server for the tests: Ed25519 key pairs made by
 * jose, published by a Node HTTP server on a random port that counts how
 * often it is asked.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";

export const ISSUER = "portcullis";
export const AUDIENCE = "portcullis";

/** A signing key and its public half as the JWKS lists it. */
export interface Key {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  return { kid, privateKey, publicJwk };
}

/** Claims as Portcullis issues them; `overrides` replace or (with `undefined`) remove. */
export async function sign(
  key: Key,
  overrides: Record<string, unknown> = {},
  lifetimeSeconds = 900,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "7f0e4a52-user",
    iat: now,
    exp: now + lifetimeSeconds,
    jti: "jti-1",
    sid: "0b3c5e9a-session",
    username: "ada",
    email: "ada@example.com",
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined) delete claims[name];
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid: key.kid })
    .sign(key.privateKey);
}

/** A local server; `handle` answers every request. */
export async function serve(
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handle);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** A JWKS endpoint publishing `keys` (change the array to rotate). */
export async function jwksServer(keys: Key[]) {
  let fetches = 0;
  const server = await serve((_request, response) => {
    fetches += 1;
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  });
  return {
    url: `${server.url}/.well-known/jwks.json`,
    keys,
    fetches: () => fetches,
    close: server.close,
  };
}
