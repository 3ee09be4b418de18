//! What the auth service shows of its records to the layers above it: the
//! API, the pages and the admin commands.
//!
//! They never see a store record. A record carries what only the service may
//! use — a password hash, a refresh token's generation and seal — and its
//! shape follows the database; a view carries what may be shown, and changes
//! only when what is shown does.

use time::OffsetDateTime;

use crate::domain::{SessionId, SignInMethod, UserId};
use crate::store::{AuditRecord, KeyRecord, SessionRecord, UserRecord};

/// An account.
#[derive(Debug, Clone)]
pub struct UserView {
    /// The id, also the `sub` claim.
    pub id: UserId,
    /// The name as registered.
    pub username: String,
    /// The address as registered.
    pub email: String,
    /// A disabled user cannot sign in or refresh.
    pub disabled: bool,
    /// When the account was made.
    pub created_at: OffsetDateTime,
    /// Whether a link mailed to the address has been used.
    pub email_verified: bool,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username,
            email: u.email,
            disabled: u.disabled,
            created_at: u.created_at,
            email_verified: u.email_verified,
        }
    }
}

/// A session, as its owner may see it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The id, also the `sid` claim.
    pub id: SessionId,
    /// Sign-in time.
    pub created_at: OffsetDateTime,
    /// The last sign-in or refresh.
    pub last_used_at: OffsetDateTime,
    /// The absolute end.
    pub expires_at: OffsetDateTime,
    /// The browser's `User-Agent` at sign-in.
    pub user_agent: Option<String>,
    /// How the sign-in was proved.
    pub method: SignInMethod,
}

impl From<SessionRecord> for SessionView {
    fn from(s: SessionRecord) -> Self {
        Self {
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.refreshed_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
            method: s.method,
        }
    }
}

/// A signing key, without its private half.
#[derive(Debug, Clone)]
pub struct KeyView {
    /// Key id, the `kid` header.
    pub kid: String,
    /// JOSE algorithm name (`EdDSA`).
    pub algorithm: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// It signs from this time on.
    pub signs_from: OffsetDateTime,
    /// After retirement, published until then.
    pub verify_until: Option<OffsetDateTime>,
}

impl From<KeyRecord> for KeyView {
    fn from(k: KeyRecord) -> Self {
        Self {
            kid: k.kid,
            algorithm: k.algorithm,
            created_at: k.created_at,
            signs_from: k.signs_from,
            verify_until: k.verify_until,
        }
    }
}

/// One event of the audit log.
#[derive(Debug, Clone)]
pub struct AuditView {
    /// When it happened.
    pub at: OffsetDateTime,
    /// What happened, as stored (kinds written by other versions are kept as
    /// text).
    pub kind: String,
    /// Whose account, when known.
    pub user: Option<UserId>,
    /// Which session, when one is concerned.
    pub session: Option<SessionId>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// A short, secret-free elaboration.
    pub detail: Option<String>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            at: r.entry.at,
            kind: r.kind,
            user: r.entry.user_id,
            session: r.entry.session_id,
            client_addr: r.entry.client_addr,
            user_agent: r.entry.user_agent,
            detail: r.entry.detail,
        }
    }
}

/// Which audit events to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this user's.
    pub user: Option<UserId>,
    /// At or after this time.
    pub since: Option<OffsetDateTime>,
    /// Before this time.
    pub until: Option<OffsetDateTime>,
    /// At most this many, newest first.
    pub limit: u32,
}
