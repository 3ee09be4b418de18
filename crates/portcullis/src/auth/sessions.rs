//! Sessions: starting them, rotating their refresh tokens, checking access
//! tokens, and ending them.

use std::sync::Arc;
use std::time::Duration;

use portcullis_verifier::Claims;
use time::OffsetDateTime;
use tracing::instrument;

use super::address_limits::Limit;
use super::audit::{AuditKind, Event};
use super::devices::DeviceToken;
use super::rotation::{self, Decision, RefreshDenial};
use super::session_views::CurrentSession;
use super::tokens::{AccessDenial, IssuedAccess};
use super::{Auth, AuthError, ClientInfo, SessionView, UserView};
use crate::domain::{RefreshToken, SessionId, SignInMethod, UserId};
use crate::store::{NewMail, NewSession, RevokeReason, Rotation, SessionRecord, UserRecord};

/// A signed-in session's fresh credentials: what the cookies will hold.
#[derive(Debug)]
pub struct SignedIn {
    /// The user.
    pub user: UserView,
    /// The session.
    pub session_id: SessionId,
    /// A new access token.
    pub access: IssuedAccess,
    /// The session's live refresh token.
    pub refresh: RefreshToken,
    /// How long the refresh cookie should live.
    pub refresh_lifetime: Duration,
    /// A new device cookie, on a sign-in or a registration: the browser has
    /// now signed in to this account (see [`super::devices`]).
    pub device: Option<DeviceToken>,
}

/// Rotation races are settled by re-reading the session; after this many
/// rounds something is wrong and the refresh is refused rather than looping.
const MAX_ROTATION_ATTEMPTS: usize = 4;

/// A session about to be stored: split from [`Auth::start_session`] so that
/// registration can store it in the same transaction as the new user.
pub(super) struct Opening {
    id: SessionId,
    refresh: RefreshToken,
    token_hash: [u8; 32],
    /// Sign-in time.
    pub(super) now: OffsetDateTime,
    expires_at: OffsetDateTime,
    user_agent: Option<String>,
    addr: Option<String>,
    method: SignInMethod,
}

impl Opening {
    /// The session's id.
    pub(super) fn id(&self) -> SessionId {
        self.id
    }

    /// The row to insert for `user`.
    pub(super) fn record(&self, user: UserId) -> NewSession<'_> {
        NewSession {
            id: self.id,
            user_id: user,
            now: self.now,
            expires_at: self.expires_at,
            token_hash: &self.token_hash,
            user_agent: self.user_agent.as_deref(),
            client_addr: self.addr.as_deref(),
            method: &self.method,
        }
    }
}

impl Auth {
    /// Starts a session for `user` that began at `began`, proved by
    /// `method`, queueing `mail` (a notice of the sign-in) in the same
    /// transaction.
    pub(super) async fn start_session(
        &self,
        user: UserRecord,
        client: &ClientInfo,
        (began, method): (OffsetDateTime, SignInMethod),
        mail: Option<&NewMail>,
    ) -> Result<SignedIn, AuthError> {
        let opening = self.open_session(client, began, method)?;
        let session = opening.record(user.id);
        match mail {
            Some(mail) => self.store.insert_session_with_mail(session, mail).await?,
            None => self.store.insert_session(session).await?,
        }
        self.queued(mail);
        Ok(self.opened(user, opening))
    }

    /// Prepares a session beginning at `now`, proved by `method`.
    pub(super) fn open_session(
        &self,
        client: &ClientInfo,
        now: OffsetDateTime,
        method: SignInMethod,
    ) -> Result<Opening, AuthError> {
        let refresh = RefreshToken::generate().map_err(|e| AuthError::Internal(e.into()))?;
        Ok(Opening {
            id: SessionId::random(),
            token_hash: refresh.hash(),
            refresh,
            now,
            expires_at: rotation::absolute_end(now, &self.policy),
            user_agent: client.user_agent.clone(),
            addr: client.addr.map(|a| a.to_string()),
            method,
        })
    }

    /// The credentials of a session once its row is stored.
    pub(super) fn opened(&self, user: UserRecord, opening: Opening) -> SignedIn {
        let Opening {
            id,
            refresh,
            now,
            expires_at,
            method,
            ..
        } = opening;
        SignedIn {
            access: self.tokens.issue(&user, id, expires_at, now, &method),
            refresh_lifetime: rotation::refresh_cookie_lifetime(expires_at, now, &self.policy),
            user: user.into(),
            session_id: id,
            refresh,
            device: None,
        }
    }

    /// Exchanges a refresh token (the cookie's value) for fresh credentials;
    /// every use is counted by outcome.
    #[instrument(skip_all)]
    pub async fn refresh(
        &self,
        cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        match self.exchange(cookie, client).await {
            Ok((signed_in, outcome)) => {
                self.metrics.refresh(outcome);
                Ok(signed_in)
            }
            Err(e) => {
                self.metrics.refresh(match &e {
                    AuthError::RefreshDenied(reason) => reason.as_str(),
                    _ => "error",
                });
                Err(e)
            }
        }
    }

    /// The refresh itself; `Ok` says whether the token was `rotated` or the
    /// current one handed out again within the `grace` window.
    async fn exchange(
        &self,
        cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(SignedIn, &'static str), AuthError> {
        let deny = |reason| Err(AuthError::RefreshDenied(reason));
        let Some(cookie) = cookie else {
            return deny(RefreshDenial::Missing);
        };
        if let Err(retry_after) = self.limits.check(Limit::Refresh, client.addr) {
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        let Some(presented) = RefreshToken::parse(cookie) else {
            return deny(RefreshDenial::Malformed);
        };
        let Some(issued) = self.store.refresh_token(&presented.hash()).await? else {
            return deny(RefreshDenial::Unknown);
        };
        for _ in 0..MAX_ROTATION_ATTEMPTS {
            let Some(session) = self.store.session(issued.session_id).await? else {
                return deny(RefreshDenial::Unknown);
            };
            let now = self.clock.now();
            match rotation::decide(&session, issued.generation, now, &self.policy) {
                Decision::Deny(reason) => return deny(reason),
                Decision::RevokeForReuse => {
                    self.revoke_reused(session.id, session.user_id, client)
                        .await?;
                    tracing::warn!(session = %session.id, "refresh token reused: session revoked");
                    return deny(RefreshDenial::Reused);
                }
                Decision::ReissueCurrent => {
                    let user = self.live_user(&session, client).await?;
                    let Some(current) = session
                        .successor_seal
                        .as_deref()
                        .and_then(|seal| presented.open_successor(seal))
                    else {
                        return deny(RefreshDenial::Unknown);
                    };
                    return Ok((self.signed_in(user, &session, current), "grace"));
                }
                Decision::Rotate => {
                    let user = self.live_user(&session, client).await?;
                    let next =
                        RefreshToken::generate().map_err(|e| AuthError::Internal(e.into()))?;
                    let rotated = self
                        .store
                        .rotate(Rotation {
                            session_id: session.id,
                            from_generation: session.generation,
                            token_hash: &next.hash(),
                            successor_seal: &presented.seal_successor(&next),
                            now,
                        })
                        .await?;
                    if rotated {
                        return Ok((self.signed_in(user, &session, next), "rotated"));
                    }
                    // Another request rotated (or revoked) the session between
                    // our read and our write: decide again on the new state.
                }
            }
        }
        tracing::error!(session = %issued.session_id, "refresh did not settle");
        deny(RefreshDenial::Unknown)
    }

    /// The user of a session about to be refreshed, when both may go on: a
    /// disabled or deleted user ends it, and so does a password change or a
    /// disable since it began, which also revokes it on every instance.
    async fn live_user(
        &self,
        session: &SessionRecord,
        client: &ClientInfo,
    ) -> Result<UserRecord, AuthError> {
        let user = match self.store.user_by_id(session.user_id).await? {
            Some(user) if !user.disabled => user,
            _ => return Err(AuthError::RefreshDenied(RefreshDenial::UserDisabled)),
        };
        if user.supersedes(session) {
            self.revoke(session.id, None, RevokeReason::Superseded, client)
                .await?;
            return Err(AuthError::RefreshDenied(RefreshDenial::Revoked));
        }
        Ok(user)
    }

    /// Fresh credentials for a session that has just been rotated or re-issued.
    fn signed_in(
        &self,
        user: UserRecord,
        session: &SessionRecord,
        refresh: RefreshToken,
    ) -> SignedIn {
        let now = self.clock.now();
        SignedIn {
            access: self
                .tokens
                .issue(&user, session.id, session.expires_at, now, &session.method),
            refresh_lifetime: rotation::refresh_cookie_lifetime(
                session.expires_at,
                now,
                &self.policy,
            ),
            user: user.into(),
            session_id: session.id,
            refresh,
            device: None,
        }
    }

    /// Checks an access token (the cookie's value).
    pub async fn authenticate(&self, access: Option<&str>) -> Result<Arc<Claims>, AuthError> {
        let token = access.ok_or(AuthError::Unauthenticated(AccessDenial::Missing))?;
        // Fail closed: a set that may be missing a revocation made elsewhere
        // cannot vouch for any token.
        if !self.freshness.is_current() {
            return Err(AuthError::RevocationsUnverified);
        }
        self.tokens
            .verify(token, self.clock.now())
            .await
            .map_err(AuthError::Unauthenticated)
    }

    /// The user and session behind valid claims: checked in the database
    /// the first time, then remembered until the user changes (see
    /// [`super::session_views`]).
    pub async fn current_session(&self, claims: &Claims) -> Result<Arc<CurrentSession>, AuthError> {
        let gone = || AuthError::Unauthenticated(AccessDenial::Revoked);
        let id: SessionId = claims.sid.parse().map_err(|_| gone())?;
        if let Some(view) = self.session_views.get(id) {
            return Ok(view);
        }
        let ticket = self.session_views.ticket();
        let (user, session) = self.current_records(claims).await?;
        let view = Arc::new(CurrentSession {
            user: user.into(),
            session: session.into(),
        });
        self.session_views.remember(ticket, view.clone());
        Ok(view)
    }

    /// Forgets what `GET /api/auth/session` remembers of `user`, once a
    /// change to it has committed.
    pub(super) fn user_changed(&self, user: UserId) {
        self.session_views.forget_user(user);
    }

    /// [`Auth::current_session`] as stored, password hash included.
    pub(super) async fn current_records(
        &self,
        claims: &Claims,
    ) -> Result<(UserRecord, SessionRecord), AuthError> {
        let gone = || AuthError::Unauthenticated(AccessDenial::Revoked);
        let session_id: SessionId = claims.sid.parse().map_err(|_| gone())?;
        let session = self.store.session(session_id).await?.ok_or_else(gone)?;
        if session.revoked_at.is_some() || session.user_id.to_string() != claims.sub {
            return Err(gone());
        }
        let user = match self.store.user_by_id(session.user_id).await? {
            Some(user) if !user.disabled => user,
            _ => return Err(gone()),
        };
        if user.supersedes(&session) {
            // Begun before a password change or a disable: revoke it, so
            // that every instance refuses its tokens from now on.
            let anyone = ClientInfo::default();
            self.revoke(session.id, None, RevokeReason::Superseded, &anyone)
                .await?;
            return Err(gone());
        }
        Ok((user, session))
    }

    /// The user's live sessions, newest first.
    pub async fn list_sessions(&self, claims: &Claims) -> Result<Vec<SessionView>, AuthError> {
        let user: UserId = claims
            .sub
            .parse()
            .map_err(|_| AuthError::Unauthenticated(AccessDenial::Revoked))?;
        let now = self.clock.now();
        let sessions = self
            .store
            .live_sessions(user, now, now - self.policy.idle_timeout)
            .await?;
        Ok(sessions.into_iter().map(SessionView::from).collect())
    }

    /// Signs out: revokes the session named by the refresh token, or else by
    /// the access token. Nothing to revoke is not an error.
    #[instrument(skip_all)]
    pub async fn logout(
        &self,
        access: Option<&str>,
        refresh: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let mut session = None;
        if let Some(token) = refresh.and_then(RefreshToken::parse) {
            session = self
                .store
                .refresh_token(&token.hash())
                .await?
                .map(|t| t.session_id);
        }
        // Not `authenticate`: signing out must work even while the revocation
        // set is unverified, and revoking twice is harmless.
        if session.is_none()
            && let Some(token) = access
            && let Ok(claims) = self.tokens.verify(token, self.clock.now()).await
        {
            session = claims.sid.parse().ok();
        }
        if let Some(id) = session {
            self.revoke(id, None, RevokeReason::Logout, client).await?;
        }
        Ok(())
    }

    /// Ends one of the caller's own sessions; [`AuthError::SessionNotFound`]
    /// for a malformed id or anybody else's session.
    pub async fn end_session(
        &self,
        claims: &Claims,
        id: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let id: SessionId = id.parse().map_err(|_| AuthError::SessionNotFound)?;
        let owner: UserId = claims.sub.parse().map_err(|_| AuthError::SessionNotFound)?;
        if self
            .revoke(id, Some(owner), RevokeReason::SignedOutRemotely, client)
            .await?
        {
            Ok(())
        } else {
            Err(AuthError::SessionNotFound)
        }
    }

    /// Signs the user out everywhere.
    pub async fn logout_all(
        &self,
        claims: &Claims,
        client: &ClientInfo,
    ) -> Result<usize, AuthError> {
        let user: UserId = claims
            .sub
            .parse()
            .map_err(|_| AuthError::Unauthenticated(AccessDenial::Revoked))?;
        self.revoke_user_sessions(user, None, RevokeReason::LogoutAll, client)
            .await
    }

    /// Revokes every session of `user` but `except`; returns how many.
    pub(super) async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
        reason: RevokeReason,
        client: &ClientInfo,
    ) -> Result<usize, AuthError> {
        let now = self.clock.now();
        let ids = self
            .store
            .revoke_user_sessions(user, except, reason, now)
            .await?;
        self.metrics.revocations(reason.as_str(), ids.len() as u64);
        self.revoked.extend(ids.iter().map(|id| (*id, now)));
        let detail = format!("{} sessions revoked", ids.len());
        self.audit(Event {
            kind: AuditKind::of_revocation(reason),
            user: Some(user),
            session: except,
            client,
            detail: Some(&detail),
        })
        .await;
        Ok(ids.len())
    }

    /// Revokes one session in the database and, at once, in memory.
    pub(super) async fn revoke(
        &self,
        id: SessionId,
        owner: Option<UserId>,
        reason: RevokeReason,
        client: &ClientInfo,
    ) -> Result<bool, AuthError> {
        let now = self.clock.now();
        let revoked = self.store.revoke_session(id, owner, reason, now).await?;
        if revoked {
            self.revoked_one(id, owner, reason, client, now).await;
        }
        Ok(revoked)
    }

    /// What follows a session's revocation in the database: this instance
    /// refuses its tokens at once, and it is counted and audited.
    pub(super) async fn revoked_one(
        &self,
        id: SessionId,
        owner: Option<UserId>,
        reason: RevokeReason,
        client: &ClientInfo,
        now: time::OffsetDateTime,
    ) {
        self.revoked.insert(id, now);
        self.metrics.revocations(reason.as_str(), 1);
        self.audit(Event {
            kind: AuditKind::of_revocation(reason),
            user: owner,
            session: Some(id),
            client,
            detail: Some(reason.as_str()),
        })
        .await;
    }
}
