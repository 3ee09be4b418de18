/**
 * What each problem `code` means to a person. Typed against every code the
 * client can return, so a new code is a compile error until it has a message.
 */
import type { Problem, ProblemCode } from "@portcullis/next/client";

const MESSAGES: Record<ProblemCode, string> = {
  invalid_username: "This username cannot be used.",
  invalid_email: "That does not look like an e-mail address.",
  weak_password: "Choose another password.",
  account_exists: "An account with this username or e-mail address already exists.",
  registration_closed: "New accounts cannot be created here.",
  invalid_credentials: "Wrong username or password.",
  too_many_attempts: "Too many attempts. Wait a little and try again.",
  cross_site_request: "This form must be sent from this site.",
  malformed_json: "The request was malformed. Reload the page and try again.",
  invalid_request: "The request was incomplete. Reload the page and try again.",
  unsupported_media_type: "The request was malformed. Reload the page and try again.",
  payload_too_large: "That is too long.",
  unauthenticated: "Your session has ended. Sign in again.",
  unavailable: "The service is busy. Try again in a moment.",
  internal_error: "Something went wrong on our side. Try again.",
  network_error: "No connection. Check your network and try again.",
  unexpected_response: "Something went wrong on our side. Try again.",
};

/** A readable message for a problem, with the server's detail when it has one. */
export function messageFor(problem: Problem): string {
  const message = MESSAGES[problem.code] ?? `Something went wrong (${problem.code}).`;
  if (problem.code === "too_many_attempts" && problem.retryAfter !== undefined) {
    return `Too many attempts. Try again in ${problem.retryAfter} s.`;
  }
  // The detail says which rule was broken ("a username has 3 to 32 characters").
  return problem.detail ? `${message} ${capitalise(problem.detail)}.` : message;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
