//! The audit log: one append-only row per security event, with who, which
//! session, from where — and never a secret (no password, token or submitted
//! name that matched no account: people type passwords into the name field).

use super::{AuditQuery, AuditView, Auth, AuthError, ClientInfo};
use crate::domain::{SessionId, UserId};
use crate::report::Chain;
use crate::store::{AuditEntry, AuditFilter, RevokeReason};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A sign-in succeeded.
    SignInOk,
    /// A sign-in failed (unknown name, wrong password or disabled account).
    SignInFailed,
    /// A sign-in was refused by throttling, per account name or per address.
    SignInThrottled,
    /// A self-service registration created an account.
    Registered,
    /// A rotated refresh token came back: the session was revoked as stolen.
    RefreshReuseDetected,
    /// One session was revoked (sign-out, ended from another session).
    SessionRevoked,
    /// Every session of a user was revoked at their request.
    LogoutAll,
    /// A user changed their password; their other sessions were revoked.
    PasswordChanged,
    /// A password change was refused: the current password given was wrong.
    PasswordChangeFailed,
    /// A password change was refused by throttling, per address, per
    /// account or per device.
    PasswordChangeThrottled,
    /// An administrator revoked a user's sessions.
    SessionsRevokedByAdmin,
    /// A new signing key was put in service.
    KeyRotated,
    /// An administrator revoked a signing key: it neither signs nor
    /// verifies any more.
    KeyRevoked,
    /// An administrator disabled a user.
    UserDisabled,
    /// A password was reset with a mailed link; every session was revoked.
    PasswordReset,
    /// An administrator made a reset link (`portcullis user reset-link`).
    ResetLinkIssued,
    /// An address was verified with a mailed link.
    EmailVerified,
    /// A user asked to change their address; the new one must confirm.
    EmailChangeRequested,
    /// An address change was refused: the current password was wrong.
    EmailChangeFailed,
    /// An address change was refused by the limits on guessing a password.
    EmailChangeThrottled,
    /// A new address confirmed with a mailed link became the account's.
    EmailChanged,
    /// A sign-in with the right password was refused: the address is not
    /// verified (`require_verified_email`).
    SignInUnverified,
    /// An identity at another provider was linked to an account (the detail
    /// names the provider).
    IdentityLinked,
    /// An identity at another provider was unlinked from an account.
    IdentityUnlinked,
    /// The password was right; the sign-in waits for a second factor.
    SignInSecondFactorRequired,
    /// A second factor was refused: a wrong, replayed or malformed code.
    SecondFactorFailed,
    /// A user turned TOTP on (and was given recovery codes).
    TotpEnabled,
    /// A user turned TOTP off; their recovery codes went with it.
    TotpDisabled,
    /// A user replaced their recovery codes.
    RecoveryCodesRegenerated,
    /// A session proved its user again (the recent-authentication check).
    Reauthenticated,
    /// A re-authentication was refused: a wrong password or code.
    ReauthenticationFailed,
    /// A re-authentication was refused by the limits on guessing.
    ReauthenticationThrottled,
    /// An administrator removed a user's second factors
    /// (`portcullis user mfa-reset`).
    SecondFactorsReset,
    /// A user registered a passkey.
    PasskeyAdded,
    /// A user deleted a passkey.
    PasskeyRemoved,
}

impl AuditKind {
    /// The stored, stable spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::SignInOk => "sign_in_ok",
            AuditKind::SignInFailed => "sign_in_failed",
            AuditKind::SignInThrottled => "sign_in_throttled",
            AuditKind::Registered => "registered",
            AuditKind::RefreshReuseDetected => "refresh_reuse_detected",
            AuditKind::SessionRevoked => "session_revoked",
            AuditKind::LogoutAll => "logout_all",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::PasswordChangeFailed => "password_change_failed",
            AuditKind::PasswordChangeThrottled => "password_change_throttled",
            AuditKind::SessionsRevokedByAdmin => "sessions_revoked_by_admin",
            AuditKind::KeyRotated => "key_rotated",
            AuditKind::KeyRevoked => "key_revoked",
            AuditKind::UserDisabled => "user_disabled",
            AuditKind::PasswordReset => "password_reset",
            AuditKind::ResetLinkIssued => "reset_link_issued",
            AuditKind::EmailVerified => "email_verified",
            AuditKind::EmailChangeRequested => "email_change_requested",
            AuditKind::EmailChangeFailed => "email_change_failed",
            AuditKind::EmailChangeThrottled => "email_change_throttled",
            AuditKind::EmailChanged => "email_changed",
            AuditKind::SignInUnverified => "sign_in_unverified",
            AuditKind::IdentityLinked => "identity_linked",
            AuditKind::IdentityUnlinked => "identity_unlinked",
            AuditKind::SignInSecondFactorRequired => "sign_in_second_factor_required",
            AuditKind::SecondFactorFailed => "second_factor_failed",
            AuditKind::TotpEnabled => "totp_enabled",
            AuditKind::TotpDisabled => "totp_disabled",
            AuditKind::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            AuditKind::Reauthenticated => "reauthenticated",
            AuditKind::ReauthenticationFailed => "reauthentication_failed",
            AuditKind::ReauthenticationThrottled => "reauthentication_throttled",
            AuditKind::SecondFactorsReset => "second_factors_reset",
            AuditKind::PasskeyAdded => "passkey_added",
            AuditKind::PasskeyRemoved => "passkey_removed",
        }
    }

    /// The event a revocation is recorded as.
    pub fn of_revocation(reason: RevokeReason) -> Self {
        match reason {
            RevokeReason::RefreshReuse => AuditKind::RefreshReuseDetected,
            RevokeReason::LogoutAll => AuditKind::LogoutAll,
            RevokeReason::PasswordChanged => AuditKind::PasswordChanged,
            RevokeReason::Administrator => AuditKind::SessionsRevokedByAdmin,
            RevokeReason::PasswordReset => AuditKind::PasswordReset,
            RevokeReason::Logout | RevokeReason::SignedOutRemotely | RevokeReason::Superseded => {
                AuditKind::SessionRevoked
            }
        }
    }
}

/// One event, before it is stamped and stored.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// What happened.
    pub kind: AuditKind,
    /// Whose account.
    pub user: Option<UserId>,
    /// Which session.
    pub session: Option<SessionId>,
    /// From where.
    pub client: &'a ClientInfo,
    /// A short, secret-free elaboration.
    pub detail: Option<&'a str>,
}

impl Auth {
    /// Appends an event to the audit log. A failure to write is logged, not
    /// returned: it must not turn a sign-out into an error, and a database
    /// that cannot take the event has failed the operation itself already.
    pub async fn audit(&self, event: Event<'_>) {
        let entry = AuditEntry {
            at: self.clock.now(),
            kind: event.kind.as_str(),
            user_id: event.user,
            session_id: event.session,
            client_addr: event.client.addr.map(|a| a.to_string()),
            user_agent: event.client.user_agent.clone(),
            detail: event.detail.map(str::to_owned),
        };
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(error = %Chain(&e), kind = entry.kind, "could not write an audit event");
        }
    }

    /// Reads the audit log, newest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditView>, AuthError> {
        let filter = AuditFilter {
            user_id: query.user,
            since: query.since,
            until: query.until,
            limit: query.limit,
        };
        let events = self.store.audit_events(&filter).await?;
        Ok(events.into_iter().map(AuditView::from).collect())
    }
}
