"use client";

import { signOut } from "@portcullis/next/client";
import { useState } from "react";

import { messageFor } from "@/lib/messages";

/**
 * Ends this session, or with `everywhere` every session of the user on every
 * device; Portcullis revokes them and clears this browser's cookies.
 */
export function SignOutButton({ everywhere = false }: { everywhere?: boolean }) {
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function onClick() {
    setPending(true);
    const result = await signOut({ everywhere });
    setPending(false);
    if (result.outcome === "problem") {
      setError(messageFor(result.problem));
      return;
    }
    // A full load: every payload the router holds was rendered for the user.
    window.location.assign("/");
  }

  return (
    <>
      <button
        type="button"
        id={everywhere ? "sign-out-everywhere" : "sign-out"}
        onClick={onClick}
        disabled={pending}
      >
        {everywhere ? "Sign out everywhere" : "Sign out"}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
