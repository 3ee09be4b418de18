import assert from "node:assert/strict";
import { test } from "node:test";

import { readToken } from "../src/token.js";

function cookies(pairs: Record<string, string>) {
  return {
    get: (name: string) => (name in pairs ? { value: pairs[name] ?? "" } : undefined),
  };
}

test("the Bearer token is read from Authorization, whatever the scheme's case", () => {
  for (const value of ["Bearer a.b.c", "bearer a.b.c", "BEARER   a.b.c "]) {
    assert.equal(readToken(new Headers({ authorization: value }), cookies({}), {}), "a.b.c");
  }
});

test("other schemes, malformed values and no header give no token", () => {
  for (const value of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "a.b.c"]) {
    assert.equal(readToken(new Headers({ authorization: value }), cookies({}), {}), null, value);
  }
  assert.equal(readToken(new Headers(), cookies({ accessToken: "a.b.c" }), {}), null);
});

test("in cookie mode only the named cookie counts", () => {
  const headers = new Headers({ authorization: "Bearer from.the.header" });
  const location = { tokenCookie: "accessToken" };
  assert.equal(readToken(headers, cookies({ accessToken: "x.y.z" }), location), "x.y.z");
  assert.equal(readToken(headers, cookies({}), location), null);
  assert.equal(readToken(headers, cookies({ accessToken: "" }), location), null);
});
