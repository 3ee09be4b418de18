// An upstream API that answers every request with what each cookie parser
// reads as the cookie named in PORTCULLIS_TOKEN_COOKIE:
// - `cookie` 0.7.2: Express 4.21 and 5, NestJS through cookie-parser 1.4.7;
// - `cookie` 0.5.0: Express 4.18 and older cookie-parser (names trimmed with
//   JavaScript's String.prototype.trim);
// - `cookie` 1.0.2: the current major version (React Router, Remix, Hono);
// - `@edge-runtime/cookies`: Next.js's `cookies()` and `request.cookies`.
// Node.js joins several `Cookie` lines with "; " before any of them reads it.
import http from "node:http";
import cookie07 from "cookie";
import cookie05 from "cookie-0.5";
import * as cookie1 from "cookie-1";
import { RequestCookies } from "@edge-runtime/cookies";

const name = process.env.PORTCULLIS_TOKEN_COOKIE ?? "accessToken";

const server = http.createServer((req, res) => {
  const header = req.headers.cookie ?? "";
  const next = new RequestCookies(new Headers({ cookie: header }));
  const read = {
    raw: header,
    cookie_0_7: cookie07.parse(header)[name] ?? null,
    cookie_0_5: cookie05.parse(header)[name] ?? null,
    cookie_1: cookie1.parse(header)[name] ?? null,
    next: next.get(name)?.value ?? null,
    next_all: next.getAll(name).map((c) => c.value),
  };
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(read));
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
