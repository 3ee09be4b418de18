import assert from "node:assert/strict";
import { test } from "node:test";

import { backendUrl, safeNextPath, signInHref } from "../src/paths.js";

test("a path on this site is followed after sign-in", () => {
  assert.equal(safeNextPath("/dashboard"), "/dashboard");
  assert.equal(safeNextPath("/notes?page=2#top"), "/notes?page=2#top");
  assert.equal(safeNextPath("/a/../b"), "/b");
});

test("anything that could leave the site falls back", () => {
  for (const next of [
    "https://evil.example/",
    "//evil.example/x",
    "/\\evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "dashboard",
    "",
    null,
    undefined,
  ]) {
    assert.equal(safeNextPath(next, "/home"), "/home", String(next));
  }
});

test("the sign-in link carries next only when it is safe", () => {
  assert.equal(signInHref("/login", "/dashboard"), "/login?next=/dashboard");
  assert.equal(signInHref("/login", "/n?a=1&b=2"), "/login?next=/n%3Fa%3D1%26b%3D2");
  assert.equal(signInHref("/login", "//evil.example"), "/login");
  assert.equal(signInHref("/login"), "/login");
});

test("backend paths are joined under the backend's own path and cannot leave it", () => {
  assert.equal(backendUrl("http://api:3000", "/api/notes").href, "http://api:3000/api/notes");
  assert.equal(backendUrl("http://api:3000/v1/", "/api/notes?x=1").href, "http://api:3000/v1/api/notes?x=1");
  for (const path of ["http://evil.example/x", "//evil.example/x", "/\\evil.example", "api/notes"]) {
    assert.throws(() => backendUrl("http://api:3000", path), TypeError, path);
  }
  assert.throws(() => backendUrl(undefined, "/api/notes"), TypeError);
});
