/**
 * `@portcullis/next/client`: sign-in, sign-up and sign-out from the browser,
 * against Portcullis's `/api/auth/*` on the same origin. Portcullis sets and
 * clears the HttpOnly cookies itself; nothing here ever sees a token.
 *
 * Every refusal comes back as a typed {@link Problem} (RFC 9457, with the
 * contract's stable `code`), never as a thrown error, so that a form can put
 * the message beside the right field ({@link problemField}).
 */

/** The codes Portcullis answers these routes with, plus two of this client's own. */
export type ProblemCode =
  | "invalid_username"
  | "invalid_email"
  | "weak_password"
  | "account_exists"
  | "registration_closed"
  | "invalid_credentials"
  | "too_many_attempts"
  | "cross_site_request"
  | "malformed_json"
  | "invalid_request"
  | "unsupported_media_type"
  | "payload_too_large"
  | "unauthenticated"
  | "unavailable"
  | "internal_error"
  /** The request never got an answer (offline, DNS, the gateway down). */
  | "network_error"
  /** An answer that is not the contract's (a proxy's HTML error page, say). */
  | "unexpected_response";

/** A refusal, as RFC 9457 problem details. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  /** What went wrong, stable across versions: branch on this. */
  readonly code: ProblemCode;
  /** A human-readable explanation (e.g. which password rule), when there is one. */
  readonly detail?: string;
  /** Seconds to wait before trying again (`too_many_attempts`). */
  readonly retryAfter?: number;
}

/** The account as `/api/auth/*` describes it. */
export interface Account {
  readonly id: string;
  readonly username: string;
  readonly email: string;
}

/** How a sign-in or sign-up ended. */
export type AuthResult =
  | { readonly outcome: "signed_in"; readonly user: Account }
  /** The password was right and a second factor is needed (`/api/auth/mfa/verify`). */
  | { readonly outcome: "mfa_required"; readonly methods: readonly string[] }
  | { readonly outcome: "problem"; readonly problem: Problem };

/** How a sign-out ended. */
export type SignOutResult =
  | { readonly outcome: "signed_out" }
  | { readonly outcome: "problem"; readonly problem: Problem };

/** Where requests go; the defaults suit a page served through Portcullis. */
export interface ClientOptions {
  /** Prefix of `/api/auth/*`; `""` (same origin) in the browser. */
  readonly baseUrl?: string;
  /** The `fetch` to use; the global one by default. */
  readonly fetch?: typeof fetch;
}

/** Signs in with a username (or e-mail address) and password. */
export function signIn(
  credentials: { readonly username: string; readonly password: string },
  options: ClientOptions = {},
): Promise<AuthResult> {
  return authenticate("/api/auth/login", credentials, options);
}

/** Creates an account and signs in. */
export function signUp(
  account: { readonly username: string; readonly email: string; readonly password: string },
  options: ClientOptions = {},
): Promise<AuthResult> {
  return authenticate("/api/auth/register", account, options);
}

/** Ends this session, or with `everywhere` every session of the user. */
export async function signOut(
  options: ClientOptions & { readonly everywhere?: boolean } = {},
): Promise<SignOutResult> {
  const path = options.everywhere ? "/api/auth/logout-all" : "/api/auth/logout";
  const answer = await post(path, undefined, options);
  if ("problem" in answer) return { outcome: "problem", problem: answer.problem };
  if (answer.response.ok) return { outcome: "signed_out" };
  return { outcome: "problem", problem: await problemOf(answer.response) };
}

/** The form field a problem is about, or `null` when it is about the whole form. */
export function problemField(code: ProblemCode): "username" | "email" | "password" | null {
  switch (code) {
    case "invalid_username":
    case "account_exists":
      return "username";
    case "invalid_email":
      return "email";
    case "weak_password":
    case "invalid_credentials":
      return "password";
    default:
      return null;
  }
}

async function authenticate(path: string, body: object, options: ClientOptions): Promise<AuthResult> {
  const answer = await post(path, body, options);
  if ("problem" in answer) return { outcome: "problem", problem: answer.problem };
  const { response } = answer;
  if (!response.ok) return { outcome: "problem", problem: await problemOf(response) };
  const json: unknown = await response.json().catch(() => null);
  if (isRecord(json) && json.mfa_required === true && Array.isArray(json.methods)) {
    return { outcome: "mfa_required", methods: json.methods.filter((m) => typeof m === "string") };
  }
  if (isRecord(json) && isAccount(json.user)) return { outcome: "signed_in", user: json.user };
  return { outcome: "problem", problem: unexpected(response.status) };
}

async function post(
  path: string,
  body: object | undefined,
  options: ClientOptions,
): Promise<{ response: Response } | { problem: Problem }> {
  const send = options.fetch ?? fetch;
  const init: RequestInit = {
    method: "POST",
    credentials: "same-origin",
    headers: { accept: "application/json, application/problem+json" },
  };
  if (body !== undefined) {
    init.headers = { ...init.headers, "content-type": "application/json" };
    init.body = JSON.stringify(body);
  }
  try {
    return { response: await send(`${options.baseUrl ?? ""}${path}`, init) };
  } catch {
    return {
      problem: { type: "about:blank", title: "Network error", status: 0, code: "network_error" },
    };
  }
}

async function problemOf(response: Response): Promise<Problem> {
  const json: unknown = await response.json().catch(() => null);
  if (!isRecord(json) || typeof json.code !== "string" || typeof json.title !== "string") {
    return unexpected(response.status);
  }
  const retry = Number(response.headers.get("retry-after"));
  return {
    type: typeof json.type === "string" ? json.type : "about:blank",
    title: json.title,
    status: response.status,
    code: json.code as ProblemCode,
    ...(typeof json.detail === "string" ? { detail: json.detail } : {}),
    ...(Number.isFinite(retry) && retry > 0 ? { retryAfter: retry } : {}),
  };
}

function unexpected(status: number): Problem {
  return { type: "about:blank", title: "Unexpected response", status, code: "unexpected_response" };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isAccount(value: unknown): value is Account {
  return (
    isRecord(value) &&
    typeof value.id === "string" &&
    typeof value.username === "string" &&
    typeof value.email === "string"
  );
}
