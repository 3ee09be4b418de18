import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";

import { problemField, signIn, signOut, signUp } from "../src/client.js";
import { serve } from "./support.js";

/** Answers as Portcullis does, by path and submitted username. */
async function portcullisLike(request: IncomingMessage, response: ServerResponse) {
  let body = "";
  for await (const chunk of request) body += chunk;
  const seen = { path: request.url, type: request.headers["content-type"], body };
  const problem = (status: number, code: string, extra: object = {}) => {
    response.statusCode = status;
    response.setHeader("content-type", "application/problem+json");
    response.end(JSON.stringify({ type: "about:blank", title: "Refused", status, code, ...extra }));
  };
  const user = { id: "u1", username: "ada", email: "ada@example.com" };
  const name = body ? (JSON.parse(body) as { username?: string }).username : undefined;
  switch (`${request.url} ${name ?? ""}`) {
    case "/api/auth/login ada":
      response.statusCode = 201;
      response.setHeader("content-type", "application/json");
      return response.end(JSON.stringify({ user, seen }));
    case "/api/auth/login mfa":
      response.statusCode = 200;
      return response.end(JSON.stringify({ mfa_required: true, methods: ["totp", 7] }));
    case "/api/auth/login slow":
      response.setHeader("retry-after", "30");
      return problem(429, "too_many_attempts");
    case "/api/auth/login html":
      response.statusCode = 502;
      return response.end("<html>Bad gateway</html>");
    case "/api/auth/register weak":
      return problem(400, "weak_password", { detail: "at least 8 characters" });
    case "/api/auth/logout ":
    case "/api/auth/logout-all ":
      response.statusCode = 204;
      return response.end();
    default:
      return problem(401, "invalid_credentials");
  }
}

describe("browser helpers", () => {
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    server = await serve((q, r) => void portcullisLike(q, r));
  });
  after(() => server.close());
  const options = () => ({ baseUrl: server.url });

  test("a sign-in returns the account", async () => {
    const result = await signIn({ username: "ada", password: "pw" }, options());
    assert.equal(result.outcome, "signed_in");
    assert.deepEqual(result.outcome === "signed_in" && result.user, {
      id: "u1",
      username: "ada",
      email: "ada@example.com",
    });
  });

  test("refusals are typed problems with their code, detail and wait", async () => {
    const wrong = await signIn({ username: "eve", password: "pw" }, options());
    assert.deepEqual(wrong, {
      outcome: "problem",
      problem: { type: "about:blank", title: "Refused", status: 401, code: "invalid_credentials" },
    });
    const weak = await signUp({ username: "weak", email: "w@example.com", password: "pw" }, options());
    assert.equal(weak.outcome === "problem" && weak.problem.detail, "at least 8 characters");
    const slow = await signIn({ username: "slow", password: "pw" }, options());
    assert.equal(slow.outcome === "problem" && slow.problem.retryAfter, 30);
  });

  test("a second factor is reported, not mistaken for a sign-in", async () => {
    const result = await signIn({ username: "mfa", password: "pw" }, options());
    assert.deepEqual(result, { outcome: "mfa_required", methods: ["totp"] });
  });

  test("an answer outside the contract and a dead network are problems too", async () => {
    const html = await signIn({ username: "html", password: "pw" }, options());
    assert.equal(html.outcome === "problem" && html.problem.code, "unexpected_response");
    const gone = await serve((_q, r) => r.end());
    await gone.close();
    const offline = await signIn({ username: "ada", password: "pw" }, { baseUrl: gone.url });
    assert.equal(offline.outcome === "problem" && offline.problem.code, "network_error");
  });

  test("sign-out here and everywhere", async () => {
    assert.deepEqual(await signOut(options()), { outcome: "signed_out" });
    assert.deepEqual(await signOut({ ...options(), everywhere: true }), { outcome: "signed_out" });
  });

  test("each code that concerns one field names it", () => {
    assert.equal(problemField("weak_password"), "password");
    assert.equal(problemField("invalid_email"), "email");
    assert.equal(problemField("account_exists"), "username");
    assert.equal(problemField("too_many_attempts"), null);
  });
});
