-- Second factors: TOTP with recovery codes, sign-ins waiting for their
-- second factor, and what each session's sign-in proved.

-- How the session began, as RFC 8176 `amr` values separated by spaces
-- ("pwd", or "pwd otp mfa"); sessions from before this migration began
-- with a password. `reauthenticated_at`: the last fresh proof of identity
-- on this session after its sign-in (the recent-authentication check).
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN reauthenticated_at INTEGER;

-- One TOTP secret per user, sealed (XChaCha20-Poly1305 under the key of
-- `mfa_key_file`, the user id as associated data). `confirmed_at` is NULL
-- while enrolment waits for its first code; `last_step` is the time step
-- of the last accepted code: no code of that step or an earlier one is
-- accepted again.
CREATE TABLE totp_secrets (
    user_id       TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sealed_secret BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    confirmed_at  INTEGER,
    last_step     INTEGER
);

-- One-time recovery codes, by SHA-256: each is 80 random bits, so a fast
-- hash suffices (nobody can search 2^80 candidates); using one deletes it.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- Sign-ins whose password was right and that wait for a second factor, by
-- the SHA-256 of the `__Host-mfa_pending` cookie; completing one deletes it.
-- `password_digest` is the SHA-256 of the password hash that was checked:
-- once the password changes, the waiting sign-in is void.
CREATE TABLE mfa_pending (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    password_digest BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX mfa_pending_by_expiry ON mfa_pending (expires_at);
