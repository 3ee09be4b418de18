/**
 * Where Portcullis puts the access token on a forwarded request: the
 * `Authorization: Bearer` header, or, when Portcullis runs with
 * `upstream_token_cookie`, a cookie of that name. Portcullis removes whatever
 * the browser sent in either place, so what is found here came from it.
 */

/** The part of a `Headers` object that is read. */
export interface HeaderReader {
  get(name: string): string | null;
}

/** The part of Next's cookie stores (`cookies()`, `request.cookies`) that is read. */
export interface CookieReader {
  get(name: string): { readonly value: string } | undefined;
}

/** Where to look: the cookie's name in cookie mode, else the Bearer header. */
export interface TokenLocation {
  /** Portcullis's `upstream_token_cookie`, when it is set. */
  readonly tokenCookie?: string | undefined;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The forwarded access token, or `null` when the request carries none. */
export function readToken(
  headers: HeaderReader,
  cookies: CookieReader,
  location: TokenLocation,
): string | null {
  if (location.tokenCookie !== undefined) {
    const value = cookies.get(location.tokenCookie)?.value;
    return value ? value : null;
  }
  const match = BEARER.exec(headers.get("authorization") ?? "");
  return match?.[1] ?? null;
}
