-- E-mail: verified addresses, single-use tokens sent by mail, the outbox the
-- mail is sent from, and request counters per account.

ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

-- Tokens of password-reset and address-verification links, by SHA-256: the
-- token itself only ever exists in the mail. One live token per user and
-- purpose (issuing a new one deletes the old); using one deletes it.
CREATE TABLE email_tokens (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- password_reset, verify_email or change_email
    purpose    TEXT NOT NULL,
    -- the address the link went to: the one it verifies, or the new one
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX email_tokens_by_user ON email_tokens (user_id, purpose);

-- Mail to send, written in the transaction of the event that causes it and
-- deleted once the SMTP server has taken it. A row is claimed by one sender
-- at a time until `claimed_until`; after a failure it waits until
-- `next_attempt_at`.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    user_id         TEXT,
    recipient       TEXT NOT NULL,
    -- the event's facts as JSON: never a token or a password
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claim           TEXT,
    claimed_until   INTEGER,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);

-- Fixed-window counters of requests per account (or per submitted address,
-- whether or not an account has it), shared by every instance.
CREATE TABLE request_counters (
    counter_key  TEXT PRIMARY KEY,
    count        INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);
