/**
 * Verifying a Portcullis access token: signature against the JWKS (fetched
 * once, cached, fetched again when a token names a key it does not hold),
 * issuer, audience and expiry. Portcullis has already checked revocation
 * before it forwarded the request; this check is what makes a token that did
 * not come through Portcullis worthless.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";

/** The signed-in user, as the access token describes them. */
export interface User {
  /** The user id (`sub`). */
  readonly id: string;
  /** The username. */
  readonly username: string;
  /** The e-mail address. */
  readonly email: string;
  /** The session (`sid`): one sign-in on one device. */
  readonly sessionId: string;
  /** When this access token expires (Portcullis refreshes it before then). */
  readonly expiresAt: Date;
}

/** Where the keys are and what the tokens must say. */
export interface VerifierOptions {
  /** Portcullis's JWKS, e.g. `http://127.0.0.1:8080/.well-known/jwks.json`. */
  readonly jwksUrl: string | URL;
  /** The expected `iss` (Portcullis's `issuer`; `portcullis` by default). */
  readonly issuer: string;
  /** The expected `aud` (Portcullis's `audience`; `portcullis` by default). */
  readonly audience: string;
  /** Clock difference tolerated on `exp`, in seconds (Portcullis's default: 5). */
  readonly clockToleranceSeconds?: number;
  /**
   * Compatibility mode: Portcullis signs with HS256 and this shared secret
   * (`hs256_secret_file`), which the JWKS does not publish.
   */
  readonly hs256Secret?: Uint8Array;
  /**
   * The least time between two JWKS fetches caused by unknown `kid`s, in
   * milliseconds: forged tokens must not turn into a flood of fetches.
   */
  readonly jwksCooldownMs?: number;
}

/** Verifies a compact JWT; `null` for any token that is not a valid access token. */
export type Verify = (token: string) => Promise<User | null>;

/**
 * Builds a verifier. Failures that say the token is bad give `null`; failures
 * that say the keys could not be had (Portcullis unreachable, a JWKS that is
 * not one) are thrown, so that a misconfigured app fails loudly instead of
 * treating everyone as signed out.
 */
export function createVerifier(options: VerifierOptions): Verify {
  const algorithms = options.hs256Secret ? ["HS256"] : ["EdDSA"];
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms,
    clockTolerance: options.clockToleranceSeconds ?? 5,
    requiredClaims: ["sub", "exp", "sid"],
  };
  const secret = options.hs256Secret;
  let check: (token: string) => Promise<{ payload: JWTPayload }>;
  if (secret) {
    check = (token) => jwtVerify(token, secret, verifyOptions);
  } else {
    const jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
    });
    check = (token) => jwtVerify(token, jwks, verifyOptions);
  }
  return async (token) => {
    try {
      return toUser((await check(token)).payload);
    } catch (error) {
      if (isKeySourceFailure(error)) throw error;
      if (error instanceof errors.JOSEError) return null;
      throw error;
    }
  };
}

function isKeySourceFailure(error: unknown): boolean {
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid;
}

function toUser(payload: JWTPayload): User | null {
  const { sub, exp, sid, username, email } = payload;
  if (
    typeof sub !== "string" ||
    typeof exp !== "number" ||
    typeof sid !== "string" ||
    typeof username !== "string" ||
    typeof email !== "string"
  ) {
    return null;
  }
  return { id: sub, username, email, sessionId: sid, expiresAt: new Date(exp * 1000) };
}
