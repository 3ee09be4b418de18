import type { Metadata } from "next";

import { apiFetch, requireUser } from "@/lib/portcullis";

import { SignOutButton } from "../sign-out-button";
import { deleteNote } from "./actions";
import { AddNote } from "./add-note";

export const metadata: Metadata = { title: "Dashboard" };

interface Note {
  id: string;
  text: string;
}

export default async function Dashboard() {
  const user = await requireUser("/dashboard");
  // On the server, straight to the backend, as this user.
  const response = await apiFetch("/api/notes");
  if (!response.ok) {
    throw new Error(`the notes API answered ${response.status}`);
  }
  const { notes } = (await response.json()) as { notes: Note[] };

  return (
    <>
      <h1>{user.username}&rsquo;s notes</h1>
      <AddNote />
      {notes.length === 0 ? (
        <p id="no-notes">No notes yet.</p>
      ) : (
        <ul id="notes">
          {notes.map((note) => (
            <li key={note.id} className="note">
              <span>{note.text}</span>
              <form action={deleteNote}>
                <input type="hidden" name="id" value={note.id} />
                <button type="submit">Delete</button>
              </form>
            </li>
          ))}
        </ul>
      )}
      <p>
        <SignOutButton everywhere />
      </p>
    </>
  );
}
