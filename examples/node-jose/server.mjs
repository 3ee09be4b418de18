// A resource server in Node that trusts Portcullis: it finds the keys through
// discovery, verifies each request's `Authorization: Bearer <jwt>` with jose,
// and answers with who the token says the caller is.
//
//   PORTCULLIS_URL=http://localhost:8080 PORT=3000 npm start
//
// Run it as Portcullis's upstream (`portcullis serve --upstream
// http://localhost:3000`): the gateway attaches the access token from the
// cookie, so the browser never holds it in JavaScript.

import http from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";

const portcullis = process.env.PORTCULLIS_URL ?? "http://localhost:8080";
// Portcullis's `audience` setting (default `portcullis`).
const audience = process.env.AUDIENCE ?? "portcullis";
const port = Number(process.env.PORT ?? 3000);

const response = await fetch(new URL("/.well-known/openid-configuration", portcullis));
if (!response.ok) {
  throw new Error(`discovery failed: ${response.status}`);
}
const discovery = await response.json();
// Fetched on first use, cached, and fetched again when a token names a key
// it does not know: a rotated-in key is picked up by itself.
const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  const bearer = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? "");
  if (!bearer) {
    return send(res, 401, { error: "missing bearer token" });
  }
  try {
    const { payload, protectedHeader } = await jwtVerify(bearer[1], keys, {
      issuer: discovery.issuer,
      audience,
      // Pin the algorithm: never let the token choose it.
      algorithms: discovery.id_token_signing_alg_values_supported,
      clockTolerance: 5,
    });
    send(res, 200, {
      sub: payload.sub,
      username: payload.username,
      sid: payload.sid,
      kid: protectedHeader.kid,
    });
  } catch (error) {
    send(res, 401, { error: error.code ?? "invalid token" });
  }
});

server.listen(port, "127.0.0.1", () => {
  // The test reads this line to learn the port when PORT=0.
  console.log(`listening on ${server.address().port}`);
});
