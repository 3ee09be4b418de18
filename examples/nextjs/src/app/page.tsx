import Link from "next/link";

import { getUser } from "@/lib/portcullis";

export default async function Home() {
  const user = await getUser();
  if (user === null) {
    return (
      <>
        <h1>Welcome</h1>
        <p id="anonymous">
          <Link href="/login">Sign in</Link> or <Link href="/register">create an account</Link> to
          keep notes.
        </p>
      </>
    );
  }
  return (
    <>
      <h1 id="greeting">Hello, {user.username}</h1>
      <p>
        Signed in as {user.email}. Your notes are on the <Link href="/dashboard">dashboard</Link>.
      </p>
    </>
  );
}
