/**
 * Who is signed in, for server components, route handlers and server
 * actions; and the backend, called as that user.
 */
import "server-only";

import { createPortcullis } from "@portcullis/next";

import { backendUrl, portcullisSettings } from "./settings";

export const { getUser, requireUser, apiFetch } = createPortcullis({
  ...portcullisSettings,
  backendUrl,
  signInPath: "/login",
});
