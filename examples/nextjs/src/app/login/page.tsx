import { safeNextPath } from "@portcullis/next";
import type { Metadata } from "next";
import { redirect } from "next/navigation";

import { getUser } from "@/lib/portcullis";

import { AuthForm } from "../auth-form";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignIn({ searchParams }: PageProps<"/login">) {
  const { next } = await searchParams;
  const target = safeNextPath(typeof next === "string" ? next : undefined);
  if (await getUser()) {
    redirect(target);
  }
  return (
    <>
      <h1>Sign in</h1>
      <AuthForm mode="sign-in" next={target} />
    </>
  );
}
