/**
 * `@portcullis/next/proxy`: the signed-in user in Next's request interceptor
 * (`proxy.ts` in Next 16, `middleware.ts` before), from the token Portcullis
 * forwarded. It imports nothing from Next, so it runs wherever the
 * interceptor runs.
 *
 * The interceptor is a first gate (redirect strangers before rendering);
 * pages, route handlers and server actions still check for themselves with
 * `getUser()` / `requireUser()`, since a matcher change can silently leave a
 * route outside it.
 */
import { readToken, type CookieReader, type HeaderReader, type TokenLocation } from "./token.js";
import { createVerifier, type User, type VerifierOptions } from "./verify.js";

export type { User, VerifierOptions } from "./verify.js";
export { safeNextPath, signInHref } from "./paths.js";

/** What the interceptor reads of a request (a `NextRequest` has both). */
export interface IncomingRequest {
  readonly headers: HeaderReader;
  readonly cookies: CookieReader;
}

/** Reads the user of a request, verified like `getUser()` does. */
export type UserFromRequest = (request: IncomingRequest) => Promise<User | null>;

/** A reader bound to one configuration; create it once, at module scope. */
export function createUserFromRequest(options: VerifierOptions & TokenLocation): UserFromRequest {
  const verify = createVerifier(options);
  return async (request) => {
    const token = readToken(request.headers, request.cookies, options);
    return token === null ? null : verify(token);
  };
}
