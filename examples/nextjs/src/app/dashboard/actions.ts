"use server";

import { revalidatePath } from "next/cache";

import { apiFetch, requireUser } from "@/lib/portcullis";

/** Deletes one of the user's notes, on the server, as that user. */
export async function deleteNote(form: FormData): Promise<void> {
  // A server action is reachable by a POST to any page that uses it: it
  // checks the user itself rather than trusting the page's guard.
  await requireUser("/dashboard");
  const id = form.get("id");
  if (typeof id !== "string" || !/^[0-9a-z]{1,64}$/.test(id)) {
    return;
  }
  const response = await apiFetch(`/api/notes/${id}`, { method: "DELETE" });
  if (!response.ok && response.status !== 404) {
    throw new Error(`the notes API answered ${response.status}`);
  }
  revalidatePath("/dashboard");
}
