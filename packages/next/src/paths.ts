/**
 * URLs built from paths that someone else may have chosen.
 *
 * The `next` parameter of the sign-in page (where to go back to afterwards)
 * arrives in a URL anyone can craft, so only a path on this site is
 * followed; anything else (another origin, `//host`, `/\host`, a scheme) would
 * make the sign-in page an open redirect. A backend path must likewise stay on
 * the backend, or the user's token would go wherever it pointed.
 */

/** `next` when it is a path on this site, else `fallback`. */
export function safeNextPath(next: string | null | undefined, fallback = "/"): string {
  if (typeof next !== "string" || !next.startsWith("/")) return fallback;
  if (next.startsWith("//") || next.startsWith("/\\")) return fallback;
  // Browsers drop tabs and newlines from URLs, which would turn `/\t/host`
  // into `//host`; any control character is refused.
  if (/[\u0000-\u001f\u007f]/.test(next)) return fallback;
  // Resolved against a dummy origin, a path stays on it.
  const base = "http://portcullis.invalid";
  const resolved = new URL(next, base);
  if (resolved.origin !== base) return fallback;
  return resolved.pathname + resolved.search + resolved.hash;
}

/** The sign-in page's URL with `next` set to `returnTo`, when that is a path on this site. */
export function signInHref(signInPath: string, returnTo?: string): string {
  if (returnTo === undefined) return signInPath;
  const next = safeNextPath(returnTo, "");
  if (next === "") return signInPath;
  // `/` may stay as it is in a query, which keeps the URL readable.
  return `${signInPath}?next=${encodeURIComponent(next).replaceAll("%2F", "/")}`;
}

/**
 * `path` on the backend. Only a path is accepted: an absolute URL would send
 * the user's token to whatever host it names.
 */
export function backendUrl(base: string | URL | undefined, path: string): URL {
  if (base === undefined) {
    throw new TypeError("apiFetch needs the backendUrl option");
  }
  if (!path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) {
    throw new TypeError(`apiFetch takes a path starting with one "/", not ${JSON.stringify(path)}`);
  }
  const root = new URL(base);
  const url = new URL(root.pathname.replace(/\/$/, "") + path, root);
  if (url.origin !== root.origin) {
    throw new TypeError(`apiFetch path ${JSON.stringify(path)} leaves the backend`);
  }
  return url;
}
