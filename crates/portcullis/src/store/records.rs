//! The records the store reads and writes, and their conversion from rows.

use std::fmt;

use secrecy::SecretSlice;
use time::OffsetDateTime;

use crate::clock::from_unix_millis;
use crate::domain::{Email, SessionId, SignInMethod, UserId, Username};

use super::StoreError;

/// Which unique value a new user collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// The username (case-insensitively).
    Username,
    /// The e-mail address (case-insensitively).
    Email,
}

impl fmt::Display for Unique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unique::Username => "username",
            Unique::Email => "e-mail address",
        })
    }
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The id, also the `sub` claim.
    pub id: UserId,
    /// The name as registered.
    pub username: String,
    /// The address as registered.
    pub email: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot sign in or refresh.
    pub disabled: bool,
    /// When the account was made.
    pub created_at: OffsetDateTime,
    /// Sessions begun before this time are no longer valid (set by a
    /// password change or a disable); the Unix epoch when never set.
    pub sessions_valid_after: OffsetDateTime,
    /// The one session that `sessions_valid_after` spares: the one that
    /// changed the password, which stays signed in.
    pub sessions_valid_after_spares: Option<SessionId>,
    /// Whether the address has been shown to receive our mail.
    pub email_verified: bool,
}

impl UserRecord {
    /// Whether `session` began before the account's cutoff and is not the
    /// one session the cutoff spares: such a session is over for good.
    pub fn supersedes(&self, session: &SessionRecord) -> bool {
        session.created_at < self.sessions_valid_after
            && self.sessions_valid_after_spares != Some(session.id)
    }
}

/// A user to create.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// The new id.
    pub id: UserId,
    /// The name.
    pub username: &'a Username,
    /// The address.
    pub email: &'a Email,
    /// The argon2id PHC string.
    pub password_hash: &'a str,
    /// Creation time.
    pub now: OffsetDateTime,
}

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The id, also the `sid` claim.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// Sign-in time.
    pub created_at: OffsetDateTime,
    /// Last sign-in or rotation; the idle timeout counts from here.
    pub refreshed_at: OffsetDateTime,
    /// Absolute end.
    pub expires_at: OffsetDateTime,
    /// Number of rotations so far; the live refresh token has this generation.
    pub generation: i64,
    /// The live refresh token sealed under its predecessor (none before the
    /// first rotation).
    pub successor_seal: Option<Vec<u8>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// The browser's `User-Agent` at sign-in.
    pub user_agent: Option<String>,
    /// The client's address at sign-in.
    pub client_addr: Option<String>,
    /// How the sign-in was proved.
    pub method: SignInMethod,
    /// The last fresh proof of identity after sign-in, if any.
    pub reauthenticated_at: Option<OffsetDateTime>,
}

impl SessionRecord {
    /// When the holder of this session last proved who they are: at sign-in
    /// or since.
    pub fn authenticated_at(&self) -> OffsetDateTime {
        self.reauthenticated_at
            .map_or(self.created_at, |t| t.max(self.created_at))
    }
}

/// A session to start.
#[derive(Debug)]
pub struct NewSession<'a> {
    /// The new id.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// Sign-in time.
    pub now: OffsetDateTime,
    /// Absolute end.
    pub expires_at: OffsetDateTime,
    /// Hash of the first refresh token (generation 0).
    pub token_hash: &'a [u8; 32],
    /// The browser's `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// How the sign-in was proved (and at which provider, if any).
    pub method: &'a SignInMethod,
    /// The client's address.
    pub client_addr: Option<&'a str>,
}

/// One refresh-token rotation.
#[derive(Debug)]
pub struct Rotation<'a> {
    /// The session.
    pub session_id: SessionId,
    /// The generation the caller saw; the rotation happens only if it is still current.
    pub from_generation: i64,
    /// Hash of the new refresh token.
    pub token_hash: &'a [u8; 32],
    /// The new token sealed under the presented one.
    pub successor_seal: &'a [u8; 32],
    /// Rotation time.
    pub now: OffsetDateTime,
}

/// What a refresh-token hash was issued for.
#[derive(Debug, Clone, Copy)]
pub struct TokenRecord {
    /// The session.
    pub session_id: SessionId,
    /// Its generation at issue.
    pub generation: i64,
}

/// Why a session was revoked; recorded with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// The user signed out.
    Logout,
    /// The user signed out everywhere.
    LogoutAll,
    /// The user ended this session from another one.
    SignedOutRemotely,
    /// The user changed their password.
    PasswordChanged,
    /// A rotated refresh token was presented again: presumed stolen.
    RefreshReuse,
    /// An administrator disabled the user or revoked the sessions.
    Administrator,
    /// The password was reset with a link sent by mail.
    PasswordReset,
    /// The session began before its user's sessions were ended (by a
    /// password change or a disable), and was stored or seen after that.
    Superseded,
}

impl RevokeReason {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::LogoutAll => "logout_all",
            RevokeReason::SignedOutRemotely => "signed_out_remotely",
            RevokeReason::PasswordChanged => "password_changed",
            RevokeReason::RefreshReuse => "refresh_reuse",
            RevokeReason::Administrator => "administrator",
            RevokeReason::Superseded => "superseded",
            RevokeReason::PasswordReset => "password_reset",
        }
    }
}

/// A signing key.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Key id, the `kid` header.
    pub kid: String,
    /// JOSE algorithm name (`EdDSA`).
    pub algorithm: String,
    /// The private key (an Ed25519 seed).
    pub private_key: SecretSlice<u8>,
    /// The public key.
    pub public_key: Vec<u8>,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// It signs from this time on.
    pub signs_from: OffsetDateTime,
    /// When it stopped signing.
    pub retired_at: Option<OffsetDateTime>,
    /// After retirement, published until then.
    pub verify_until: Option<OffsetDateTime>,
}

// Rows as both backends return them: the same column types map to the same
// Rust types in SQLite and PostgreSQL.

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    username: String,
    email: String,
    password_hash: String,
    disabled: bool,
    created_at: i64,
    email_verified: bool,
    sessions_valid_after: i64,
    sessions_valid_after_spares: Option<String>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(UserRecord {
            id: r.id.parse().map_err(|_| StoreError::Corrupt("user id"))?,
            username: r.username,
            email: r.email,
            password_hash: r.password_hash,
            disabled: r.disabled,
            created_at: from_unix_millis(r.created_at),
            email_verified: r.email_verified,
            sessions_valid_after: from_unix_millis(r.sessions_valid_after),
            sessions_valid_after_spares: r
                .sessions_valid_after_spares
                .map(|id| id.parse())
                .transpose()
                .map_err(|_| StoreError::Corrupt("spared session id"))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: String,
    user_id: String,
    created_at: i64,
    refreshed_at: i64,
    expires_at: i64,
    generation: i64,
    successor_seal: Option<Vec<u8>>,
    revoked_at: Option<i64>,
    user_agent: Option<String>,
    client_addr: Option<String>,
    amr: String,
    reauthenticated_at: Option<i64>,
    idp: Option<String>,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(SessionRecord {
            id: r
                .id
                .parse()
                .map_err(|_| StoreError::Corrupt("session id"))?,
            user_id: r
                .user_id
                .parse()
                .map_err(|_| StoreError::Corrupt("user id"))?,
            created_at: from_unix_millis(r.created_at),
            refreshed_at: from_unix_millis(r.refreshed_at),
            expires_at: from_unix_millis(r.expires_at),
            generation: r.generation,
            successor_seal: r.successor_seal,
            revoked_at: r.revoked_at.map(from_unix_millis),
            user_agent: r.user_agent,
            client_addr: r.client_addr,
            method: SignInMethod::from_stored(&r.amr, r.idp.as_deref())
                .ok_or(StoreError::Corrupt("session amr"))?,
            reauthenticated_at: r.reauthenticated_at.map(from_unix_millis),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    session_id: String,
    generation: i64,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        Ok(TokenRecord {
            session_id: r
                .session_id
                .parse()
                .map_err(|_| StoreError::Corrupt("session id"))?,
            generation: r.generation,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    kid: String,
    algorithm: String,
    private_key: Vec<u8>,
    public_key: Vec<u8>,
    created_at: i64,
    signs_from: i64,
    retired_at: Option<i64>,
    verify_until: Option<i64>,
}

impl From<KeyRow> for KeyRecord {
    fn from(r: KeyRow) -> Self {
        KeyRecord {
            kid: r.kid,
            algorithm: r.algorithm,
            private_key: r.private_key.into(),
            public_key: r.public_key,
            created_at: from_unix_millis(r.created_at),
            signs_from: from_unix_millis(r.signs_from),
            retired_at: r.retired_at.map(from_unix_millis),
            verify_until: r.verify_until.map(from_unix_millis),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RevokedRow {
    id: String,
    revoked_at: i64,
}

impl TryFrom<RevokedRow> for (SessionId, OffsetDateTime) {
    type Error = StoreError;

    fn try_from(r: RevokedRow) -> Result<Self, StoreError> {
        Ok((
            r.id.parse()
                .map_err(|_| StoreError::Corrupt("session id"))?,
            from_unix_millis(r.revoked_at),
        ))
    }
}

/// Converts every row, failing on the first corrupt one.
pub(super) fn convert_all<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// A security event to append to the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// When it happened.
    pub at: OffsetDateTime,
    /// What happened, e.g. `sign_in_failed` (see `auth::audit::AuditKind`).
    pub kind: &'static str,
    /// Whose account, when known.
    pub user_id: Option<UserId>,
    /// Which session, when one is concerned.
    pub session_id: Option<SessionId>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// A short, secret-free elaboration (a revocation reason, a key id…).
    pub detail: Option<String>,
}

/// A stored audit event.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Position in the log.
    pub id: i64,
    /// The event.
    pub entry: AuditEntry,
    /// The kind as stored (kinds written by other versions are kept as text).
    pub kind: String,
}

/// Which audit events to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this user's.
    pub user_id: Option<UserId>,
    /// At or after this time.
    pub since: Option<OffsetDateTime>,
    /// Before this time.
    pub until: Option<OffsetDateTime>,
    /// At most this many, newest first.
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at: i64,
    kind: String,
    user_id: Option<String>,
    session_id: Option<String>,
    client_addr: Option<String>,
    user_agent: Option<String>,
    detail: Option<String>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;

    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditRecord {
            id: r.id,
            entry: AuditEntry {
                at: from_unix_millis(r.at),
                kind: "",
                user_id: r
                    .user_id
                    .map(|u| u.parse().map_err(|_| StoreError::Corrupt("user id")))
                    .transpose()?,
                session_id: r
                    .session_id
                    .map(|s| s.parse().map_err(|_| StoreError::Corrupt("session id")))
                    .transpose()?,
                client_addr: r.client_addr,
                user_agent: r.user_agent,
                detail: r.detail,
            },
            kind: r.kind,
        })
    }
}
