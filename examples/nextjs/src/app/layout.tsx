import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";

import { getUser } from "@/lib/portcullis";

import "./globals.css";
import { SignOutButton } from "./sign-out-button";

export const metadata: Metadata = {
  title: "Notes behind Portcullis",
  description: "A Next.js App Router app whose server components know their user",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await getUser();
  return (
    <html lang="en">
      <body>
        <header>
          <nav aria-label="Main">
            <Link href="/">Home</Link>
            <Link href="/dashboard">Dashboard</Link>
          </nav>
          <div className="account">
            {user ? (
              <>
                <span id="signed-in-as">{user.username}</span>
                <SignOutButton />
              </>
            ) : (
              <>
                <Link href="/login">Sign in</Link>
                <Link href="/register">Sign up</Link>
              </>
            )}
          </div>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
