"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

/** The notes API's problem codes. */
const NOTE_MESSAGES: Record<string, string> = {
  invalid_note: "A note needs some text (at most 10,000 characters).",
  too_many_notes: "You have reached the limit of notes.",
};

/**
 * Adds a note from the browser, through Portcullis (`/api/notes` on this
 * origin): the cookies go along, Portcullis attaches the token. The server
 * component above is then rendered again with the new list.
 */
export function AddNote() {
  const router = useRouter();
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      const response = await fetch("/api/notes", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
      if (response.status === 401) {
        router.push("/login?next=/dashboard");
        return;
      }
      if (!response.ok) {
        const problem: unknown = await response.json().catch(() => null);
        const code =
          typeof problem === "object" && problem !== null && "code" in problem
            ? String(problem.code)
            : "";
        setError(NOTE_MESSAGES[code] ?? "The note could not be saved. Try again.");
        return;
      }
      setText("");
      router.refresh();
    } catch {
      setError("No connection. Check your network and try again.");
    } finally {
      setPending(false);
    }
  }

  return (
    <form className="stacked" onSubmit={onSubmit} data-form="note">
      <label>
        New note
        <input
          id="note-text"
          name="text"
          value={text}
          onChange={(event) => setText(event.target.value)}
          required
          maxLength={10000}
          aria-describedby="note-error"
        />
      </label>
      <p id="note-error" className="error" role="alert">
        {error}
      </p>
      <button type="submit" disabled={pending}>
        Add note
      </button>
    </form>
  );
}
