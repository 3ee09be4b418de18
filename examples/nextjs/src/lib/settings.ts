/**
 * Where this app finds Portcullis and the backend, from the environment. The
 * names do not start with `PORTCULLIS_`: Portcullis reads those itself, and
 * the two often share an environment file.
 *
 * Shared by the server helpers and the request interceptor (`src/proxy.ts`).
 */

/** How tokens are verified and where Portcullis puts them. */
export const portcullisSettings = {
  /** Portcullis's JWKS, reached from this server (not through the browser). */
  jwksUrl: process.env.JWKS_URL ?? "http://127.0.0.1:8080/.well-known/jwks.json",
  /** Portcullis's `issuer` and `audience` (both `portcullis` unless configured). */
  issuer: process.env.TOKEN_ISSUER ?? "portcullis",
  audience: process.env.TOKEN_AUDIENCE ?? "portcullis",
  /** Set to Portcullis's `upstream_token_cookie` when it uses one; else Bearer. */
  tokenCookie: process.env.TOKEN_COOKIE || undefined,
};

/** The backend API (`examples/upstream-api`), reached from this server. */
export const backendUrl = process.env.BACKEND_URL ?? "http://127.0.0.1:3000";
