/**
 * `@portcullis/next`: the signed-in user in server code of a Next.js App
 * Router app behind Portcullis (`PORTCULLIS_FRONTEND_TOKEN=true`).
 *
 * Portcullis verifies the session (signature, expiry, revocation), refreshes
 * it when needed, and forwards the access token with each page request, as it
 * does for API requests. Here that token is read from the request with
 * `headers()` or `cookies()`, verified once more against Portcullis's JWKS (so
 * that a request that bypassed Portcullis gains nothing), and turned into a
 * {@link User}. The token itself stays on the server: nothing here returns it,
 * so it cannot end up in a client component's props, the HTML or an RSC
 * payload.
 *
 * ```ts
 * // src/lib/portcullis.ts
 * export const { getUser, requireUser, apiFetch } = createPortcullis({ ... });
 * ```
 */
import "server-only";

import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";

import { backendUrl, signInHref } from "./paths.js";
import { readToken, type TokenLocation } from "./token.js";
import { createVerifier, type User, type VerifierOptions } from "./verify.js";

export type { User, VerifierOptions } from "./verify.js";
export { safeNextPath, signInHref } from "./paths.js";

/** How the app reaches Portcullis and its backend. */
export interface PortcullisOptions extends VerifierOptions, TokenLocation {
  /** The app's sign-in page, for {@link Portcullis.requireUser}. Default `/login`. */
  readonly signInPath?: string;
  /**
   * The backend API as the Next.js server reaches it (not through the
   * browser), for {@link Portcullis.apiFetch}, e.g. `http://127.0.0.1:3000`.
   */
  readonly backendUrl?: string | URL;
}

/** The helpers, bound to one configuration. */
export interface Portcullis {
  /**
   * The signed-in user, or `null` for an anonymous visitor. For server
   * components, route handlers and server actions. Memoised for one render
   * pass.
   */
  getUser(): Promise<User | null>;
  /**
   * The signed-in user; an anonymous visitor is redirected to the sign-in
   * page, with `returnTo` (a path on this site) as its `next` parameter.
   */
  requireUser(returnTo?: string): Promise<User>;
  /**
   * `fetch` to the backend, as the signed-in user: `path` is resolved against
   * `backendUrl` and the verified token is attached where Portcullis would
   * attach it (Bearer, or the token cookie). Never cached by Next.js. Without
   * a signed-in user the request goes without a token and the backend decides.
   */
  apiFetch(path: string, init?: RequestInit): Promise<Response>;
}

/** The helpers for one Portcullis deployment. */
export function createPortcullis(options: PortcullisOptions): Portcullis {
  const verify = createVerifier(options);
  const signInPath = options.signInPath ?? "/login";

  // One verification per render pass, however many components ask.
  const verified = cache(async (): Promise<{ user: User; token: string } | null> => {
    const token = readToken(await headers(), await cookies(), options);
    if (token === null) return null;
    const user = await verify(token);
    return user === null ? null : { user, token };
  });

  return {
    async getUser() {
      return (await verified())?.user ?? null;
    },
    async requireUser(returnTo) {
      const session = await verified();
      if (session === null) redirect(signInHref(signInPath, returnTo));
      return session.user;
    },
    async apiFetch(path, init) {
      const url = backendUrl(options.backendUrl, path);
      const session = await verified();
      const sent = new Headers(init?.headers);
      if (session !== null) {
        if (options.tokenCookie === undefined) {
          sent.set("authorization", `Bearer ${session.token}`);
        } else {
          sent.append("cookie", `${options.tokenCookie}=${session.token}`);
        }
      }
      return fetch(url, { ...init, headers: sent, cache: "no-store" });
    },
  };
}
