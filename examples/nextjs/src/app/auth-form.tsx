"use client";

import {
  problemField,
  signIn,
  signUp,
  type AuthResult,
} from "@portcullis/next/client";
import Link from "next/link";
import { useState, type FormEvent } from "react";

import { messageFor } from "@/lib/messages";

type Field = "username" | "email" | "password";
type Errors = Partial<Record<Field | "form", string>>;

/**
 * The sign-in and sign-up form. It posts to Portcullis's `/api/auth/login` or
 * `/api/auth/register`; Portcullis sets the session cookies on the answer,
 * and the pages rendered next know the user. Each refusal is shown beside the
 * field it concerns.
 */
export function AuthForm({ mode, next }: { mode: "sign-in" | "sign-up"; next: string }) {
  const [errors, setErrors] = useState<Errors>({});
  const [pending, setPending] = useState(false);
  const signingUp = mode === "sign-up";

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const value = (name: Field) => String(data.get(name) ?? "");
    setPending(true);
    setErrors({});
    const result: AuthResult = signingUp
      ? await signUp({ username: value("username"), email: value("email"), password: value("password") })
      : await signIn({ username: value("username"), password: value("password") });
    setPending(false);
    switch (result.outcome) {
      case "signed_in":
        // A full load, not a client-side navigation: the router may hold
        // payloads rendered for the stranger this visitor was a moment ago
        // (a prefetched redirect to this very page, say).
        window.location.assign(next);
        return;
      case "mfa_required":
        setErrors({ form: "This account uses a second factor, which this example does not ask for." });
        return;
      case "problem": {
        const field = problemField(result.problem.code);
        // An e-mail address is only asked for when signing up.
        const place = field === "email" && !signingUp ? "form" : (field ?? "form");
        setErrors({ [place]: messageFor(result.problem) });
      }
    }
  }

  const other = signingUp ? "/login" : "/register";
  return (
    <form className="stacked" onSubmit={onSubmit} noValidate data-form={mode}>
      <Input name="username" label={signingUp ? "Username" : "Username or e-mail"} errors={errors} autoComplete="username" />
      {signingUp && <Input name="email" label="E-mail" type="email" errors={errors} autoComplete="email" />}
      <Input
        name="password"
        label="Password"
        type="password"
        errors={errors}
        autoComplete={signingUp ? "new-password" : "current-password"}
      />
      {errors.form && (
        <p id="form-error" className="error" role="alert">
          {errors.form}
        </p>
      )}
      <button type="submit" disabled={pending}>
        {signingUp ? "Create account" : "Sign in"}
      </button>
      <p>
        <Link href={next === "/" ? other : `${other}?next=${encodeURIComponent(next)}`}>
          {signingUp ? "Already have an account? Sign in" : "No account yet? Sign up"}
        </Link>
      </p>
    </form>
  );
}

function Input({
  name,
  label,
  errors,
  type = "text",
  autoComplete,
}: {
  name: Field;
  label: string;
  errors: Errors;
  type?: string;
  autoComplete: string;
}) {
  const error = errors[name];
  return (
    <label>
      {label}
      <input
        id={name}
        name={name}
        type={type}
        required
        autoComplete={autoComplete}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${name}-error` : undefined}
      />
      {error && (
        <span id={`${name}-error`} className="error" role="alert">
          {error}
        </span>
      )}
    </label>
  );
}
