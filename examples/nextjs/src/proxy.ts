/**
 * The request interceptor: strangers asking for the dashboard go to the
 * sign-in page, which brings them back afterwards. It judges only by the
 * token Portcullis forwarded (verified against the JWKS); the pages check
 * again with `requireUser()`, as a matcher can miss a route.
 */
import { createUserFromRequest, signInHref } from "@portcullis/next/proxy";
import { NextResponse, type NextRequest } from "next/server";

import { portcullisSettings } from "@/lib/settings";

const userFrom = createUserFromRequest(portcullisSettings);

export async function proxy(request: NextRequest) {
  if (await userFrom(request)) {
    return NextResponse.next();
  }
  const { pathname, search } = request.nextUrl;
  return NextResponse.redirect(new URL(signInHref("/login", pathname + search), request.url));
}

export const config = {
  matcher: ["/dashboard/:path*"],
};
