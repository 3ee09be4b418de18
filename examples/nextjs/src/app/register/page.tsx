import { safeNextPath } from "@portcullis/next";
import type { Metadata } from "next";
import { redirect } from "next/navigation";

import { getUser } from "@/lib/portcullis";

import { AuthForm } from "../auth-form";

export const metadata: Metadata = { title: "Sign up" };

export default async function SignUp({ searchParams }: PageProps<"/register">) {
  const { next } = await searchParams;
  const target = safeNextPath(typeof next === "string" ? next : undefined);
  if (await getUser()) {
    redirect(target);
  }
  return (
    <>
      <h1>Create an account</h1>
      <AuthForm mode="sign-up" next={target} />
    </>
  );
}
