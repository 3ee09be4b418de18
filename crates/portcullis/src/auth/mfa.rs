//! Second factors: TOTP enrolment and removal, recovery codes, completing a
//! sign-in that waits for a second factor, and the recent-authentication
//! check ("sudo") in front of changes to the factors themselves.
//!
//! A code is a guess like a password is: every check of one, at sign-in or
//! on re-authentication, spends an attempt of the client address's budget
//! and, when wrong, counts as a failed sign-in against the account (or the
//! device that vouches for the browser), so six digits cannot be walked
//! through. A correct password does not reset that count on an account with
//! a second factor; only a completed sign-in does.
//!
//! Changing the factors needs a recent proof of identity on the session —
//! its sign-in, or a re-authentication, within `reauthentication_window` —
//! so that a session cookie stolen hours after sign-in cannot swap in the
//! thief's authenticator or remove the owner's. Changing the password or the
//! address already carries the current password, a fresh proof of its own.

use portcullis_verifier::Claims;
use secrecy::SecretString;
use time::OffsetDateTime;
use tracing::instrument;

use super::audit::{AuditKind, Event};
use super::guessing::Throttled;
use super::one_time_codes::{
    self, RECOVERY_CODES, SecretSealer, TotpSecret, generate_recovery_code, recovery_code_hash,
};
use super::password_change::{CurrentPassword, Proving};
use super::sign_in::{Admission, LoginFailure, PENDING_LIFETIME, PendingSignIn, password_digest};
use super::{Auth, AuthError, ClientInfo, SignedIn};
use crate::domain::{LinkToken, SecondFactorKind, SignInMethod, UserId};
use crate::store::{PendingRecord, SessionRecord, UserRecord};

/// What a new TOTP enrolment shows its user, once.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into an app.
    pub secret: SecretString,
    /// The `otpauth://` URI.
    pub otpauth_uri: SecretString,
    /// The URI's QR code as an SVG document.
    pub qr_svg: String,
}

/// What completes a waiting sign-in.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    /// A TOTP code.
    Totp(&'a str),
    /// A recovery code.
    RecoveryCode(&'a str),
    /// A passkey's assertion (`PublicKeyCredential` as JSON), answering
    /// the challenge of `POST /api/auth/mfa/webauthn/start`.
    Passkey(&'a serde_json::Value),
}

/// What a session proves its user with again.
#[derive(Debug, Clone, Copy)]
pub enum Reauthentication<'a> {
    /// The password (only on an account without a second factor).
    Password(&'a SecretString),
    /// A TOTP code.
    Totp(&'a str),
    /// A passkey's assertion, answering the challenge of
    /// `POST /api/auth/reauthenticate/webauthn/start`.
    Passkey(&'a serde_json::Value),
}

/// A second factor offered by a signed-in user to prove themselves again.
#[derive(Debug, Clone, Copy)]
enum FactorProof<'a> {
    /// A TOTP code.
    Code(&'a str),
    /// A passkey's assertion.
    Passkey(&'a serde_json::Value),
}

/// The second factors a user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondFactors {
    /// Whether TOTP is on.
    pub totp: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
    /// Whether the user has a passkey (which counts as a second factor).
    pub passkey: bool,
}

impl Auth {
    /// Whether the account has TOTP on.
    async fn has_totp(&self, user: UserId) -> Result<bool, AuthError> {
        Ok(self
            .store
            .totp(user)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some()))
    }

    /// The second factors that complete a waiting sign-in of `user`, as the
    /// login answer lists them; empty when the account has none.
    pub(super) async fn second_factor_methods(
        &self,
        user: UserId,
    ) -> Result<Vec<&'static str>, AuthError> {
        let mut methods = Vec::new();
        if self.has_totp(user).await? {
            methods.extend(["totp", "recovery_code"]);
        }
        if self.has_passkey(user).await? {
            methods.push("webauthn");
        }
        Ok(methods)
    }

    /// Whether the account has a second factor that sign-in must ask for.
    pub(super) async fn has_second_factor(&self, user: UserId) -> Result<bool, AuthError> {
        Ok(!self.second_factor_methods(user).await?.is_empty())
    }

    /// Stores a sign-in whose password was right and that now waits for a
    /// second factor; audited with the account.
    pub(super) async fn await_second_factor(
        &self,
        user: &UserRecord,
        (began, password_digest): (OffsetDateTime, [u8; 32]),
        (method, methods): (SignInMethod, Vec<&'static str>),
        client: &ClientInfo,
    ) -> Result<PendingSignIn, AuthError> {
        let token = LinkToken::generate().map_err(|e| AuthError::Internal(e.into()))?;
        let pending = PendingRecord {
            user_id: user.id,
            created_at: began,
            password_digest,
            method,
        };
        self.store
            .insert_mfa_pending(&token.hash(), pending, began + PENDING_LIFETIME)
            .await?;
        self.audit(Event {
            kind: AuditKind::SignInSecondFactorRequired,
            user: Some(user.id),
            session: None,
            client,
            detail: None,
        })
        .await;
        Ok(PendingSignIn {
            token,
            lifetime: PENDING_LIFETIME,
            methods,
        })
    }

    /// Completes the sign-in waiting under the pending cookie `cookie` with
    /// a second factor; counted and audited as a sign-in.
    #[instrument(skip_all)]
    pub async fn complete_sign_in(
        &self,
        cookie: Option<&str>,
        factor: SecondFactor<'_>,
        device: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        let result = self
            .check_second_factor(cookie, factor, device, client)
            .await;
        let proof = match factor {
            SecondFactor::Totp(_) => "totp",
            SecondFactor::RecoveryCode(_) => "recovery code",
            SecondFactor::Passkey(_) => "passkey",
        };
        self.record_sign_in(result, Some(proof), client).await
    }

    async fn check_second_factor(
        &self,
        cookie: Option<&str>,
        factor: SecondFactor<'_>,
        device: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn, LoginFailure> {
        let token = cookie
            .and_then(LinkToken::parse)
            .ok_or(LoginFailure::Expired)?;
        let now = self.clock.now();
        let pending = self
            .store
            .mfa_pending(&token.hash(), now)
            .await?
            .ok_or(LoginFailure::Expired)?;
        let user = match self.store.user_by_id(pending.user_id).await? {
            // A password change, reset or disable since the password was
            // checked voids the waiting sign-in.
            Some(user)
                if !user.disabled
                    && user.sessions_valid_after <= pending.created_at
                    && password_digest(&user.password_hash) == pending.password_digest =>
            {
                user
            }
            _ => return Err(LoginFailure::Expired),
        };
        self.admit_address(client)
            .map_err(LoginFailure::Throttled)?;
        let key = self.account_key(&user, device);
        self.admit_key(&key, now)
            .await?
            .map_err(LoginFailure::Throttled)?;
        let accepted = match factor {
            SecondFactor::Totp(code) => self
                .accept_totp(user.id, code, now)
                .await?
                .then_some(SecondFactorKind::Otp),
            SecondFactor::RecoveryCode(code) => match recovery_code_hash(code) {
                Some(hash) => self
                    .store
                    .use_recovery_code(user.id, &hash)
                    .await?
                    .then_some(SecondFactorKind::Otp),
                None => None,
            },
            SecondFactor::Passkey(credential) => {
                self.accept_passkey_second_factor(user.id, &token, credential)
                    .await?
            }
        };
        let Some(factor) = accepted else {
            let failures = self.guess_failed(&key, now, client).await?;
            tracing::info!(failures, "second factor refused");
            return Err(match factor {
                SecondFactor::Passkey(_) => LoginFailure::WrongPasskey(Some(user.id)),
                _ => LoginFailure::WrongCode(user.id),
            });
        };
        // One session per waiting sign-in: of two requests with good codes,
        // the one that does not delete the row is refused.
        if !self.store.take_mfa_pending(&token.hash()).await? {
            return Err(LoginFailure::Expired);
        }
        let admission = Admission {
            password_digest: pending.password_digest,
            user,
            key: &key,
            began: pending.created_at,
            // What the first step proved (a password, or a provider), and
            // now a factor of ours.
            method: pending.method.with_second_factor(factor),
        };
        self.admit(admission, client).await
    }

    /// The sealer of TOTP secrets, or [`AuthError::TotpUnavailable`]
    /// without `mfa_key_file`.
    fn sealer(&self) -> Result<&SecretSealer, AuthError> {
        self.sealer.as_ref().ok_or(AuthError::TotpUnavailable)
    }

    /// The user's confirmed TOTP secret, opened; `None` without one.
    async fn totp_secret(&self, user: UserId) -> Result<Option<TotpSecret>, AuthError> {
        let sealer = self.sealer()?;
        let Some(record) = self.store.totp(user).await? else {
            return Ok(None);
        };
        if record.confirmed_at.is_none() {
            return Ok(None);
        }
        match sealer.open(user, &record.sealed_secret) {
            Ok(secret) => Ok(Some(secret)),
            Err(e) => {
                // The key file changed since the secret was sealed: TOTP
                // cannot work until the old key is back (or the user's
                // factors are reset), and saying "wrong code" would be a lie.
                tracing::error!(user = %user, error = %e, "a TOTP secret does not open with mfa_key_file's key");
                Err(AuthError::TotpUnavailable)
            }
        }
    }

    /// Whether `code` is the user's TOTP code now (a step either side
    /// allowed), accepting it once: its step, and every earlier one, is
    /// refused from then on.
    async fn accept_totp(
        &self,
        user: UserId,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<bool, AuthError> {
        let Some(secret) = self.totp_secret(user).await? else {
            return Ok(false);
        };
        match secret.matching_step(code, now) {
            Some(step) => Ok(self.store.accept_totp_step(user, step, None, now).await?),
            None => Ok(false),
        }
    }

    /// Refuses a change to the ways of signing in (linking or unlinking a
    /// provider) unless the session's user proved who they are within
    /// `reauthentication_window`, as [`Auth::begin_totp`] does.
    pub async fn require_recent_authentication(&self, claims: &Claims) -> Result<(), AuthError> {
        let (_, session) = self.current_records(claims).await?;
        self.require_recent(&session)
    }

    /// Refuses a change to the factors unless the session's user proved who
    /// they are within `reauthentication_window`.
    pub(super) fn require_recent(&self, session: &SessionRecord) -> Result<(), AuthError> {
        let age = self.clock.now() - session.authenticated_at();
        if age > self.reauthentication_window {
            return Err(AuthError::ReauthenticationRequired);
        }
        Ok(())
    }

    /// Begins a TOTP enrolment: a new secret, shown once, that turns on with
    /// its first code ([`Auth::confirm_totp`]). Replaces an enrolment not
    /// yet confirmed.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn begin_totp(&self, claims: &Claims) -> Result<TotpEnrolment, AuthError> {
        let sealer = self.sealer()?;
        let (user, session) = self.current_records(claims).await?;
        self.require_recent(&session)?;
        let secret = TotpSecret::generate().map_err(|e| AuthError::Internal(e.into()))?;
        let sealed = sealer
            .seal(user.id, &secret)
            .map_err(|e| AuthError::Internal(e.into()))?;
        if !self
            .store
            .begin_totp(user.id, &sealed, self.clock.now())
            .await?
        {
            return Err(AuthError::TotpAlreadyEnabled);
        }
        let uri = secret.otpauth_uri(&self.totp_issuer, &user.username);
        let qr_svg = one_time_codes::qr_svg(&uri)
            .ok_or_else(|| AuthError::Internal("the otpauth URI does not fit a QR code".into()))?;
        Ok(TotpEnrolment {
            secret: secret.base32().into(),
            otpauth_uri: uri.into(),
            qr_svg,
        })
    }

    /// Turns TOTP on with the enrolment's first code; returns the recovery
    /// codes, which are stored only as hashes and never shown again.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn confirm_totp(
        &self,
        claims: &Claims,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<SecretString>, AuthError> {
        let sealer = self.sealer()?;
        let (user, session) = self.current_records(claims).await?;
        let record = self
            .store
            .totp(user.id)
            .await?
            .ok_or(AuthError::NoTotpEnrolment)?;
        if record.confirmed_at.is_some() {
            return Err(AuthError::TotpAlreadyEnabled);
        }
        let secret = sealer
            .open(user.id, &record.sealed_secret)
            .map_err(|_| AuthError::TotpUnavailable)?;
        let now = self.clock.now();
        // Not counted as a guess: whoever confirms was shown the secret.
        let step = secret
            .matching_step(code, now)
            .ok_or(AuthError::InvalidCode)?;
        let (codes, hashes) = new_recovery_codes()?;
        if !self
            .store
            .accept_totp_step(user.id, step, Some(&hashes), now)
            .await?
        {
            return Err(AuthError::InvalidCode);
        }
        self.audit(Event {
            kind: AuditKind::TotpEnabled,
            user: Some(user.id),
            session: Some(session.id),
            client,
            detail: None,
        })
        .await;
        Ok(codes)
    }

    /// Turns TOTP off, its recovery codes with it (a recent authentication
    /// needed).
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn remove_totp(&self, claims: &Claims, client: &ClientInfo) -> Result<(), AuthError> {
        let (user, session) = self.current_records(claims).await?;
        self.require_recent(&session)?;
        if !self.store.remove_second_factors(user.id).await? {
            return Err(AuthError::NoSecondFactor);
        }
        self.audit(Event {
            kind: AuditKind::TotpDisabled,
            user: Some(user.id),
            session: Some(session.id),
            client,
            detail: None,
        })
        .await;
        Ok(())
    }

    /// Replaces the user's recovery codes with new ones (a recent
    /// authentication needed).
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn regenerate_recovery_codes(
        &self,
        claims: &Claims,
        client: &ClientInfo,
    ) -> Result<Vec<SecretString>, AuthError> {
        let (user, session) = self.current_records(claims).await?;
        self.require_recent(&session)?;
        let (codes, hashes) = new_recovery_codes()?;
        if !self
            .store
            .replace_recovery_codes(user.id, &hashes, self.clock.now())
            .await?
        {
            return Err(AuthError::NoSecondFactor);
        }
        self.audit(Event {
            kind: AuditKind::RecoveryCodesRegenerated,
            user: Some(user.id),
            session: Some(session.id),
            client,
            detail: None,
        })
        .await;
        Ok(codes)
    }

    /// The signed-in user's second factors.
    pub async fn second_factors(&self, claims: &Claims) -> Result<SecondFactors, AuthError> {
        let (user, _) = self.current_records(claims).await?;
        Ok(SecondFactors {
            totp: self.has_totp(user.id).await?,
            recovery_codes_left: self.store.recovery_codes_left(user.id).await?,
            passkey: self.has_passkey(user.id).await?,
        })
    }

    /// Proves the session's user again, which opens the
    /// recent-authentication window anew: by password on an account without
    /// a second factor, else by code. Checked like a sign-in.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn reauthenticate(
        &self,
        claims: &Claims,
        proof: Reauthentication<'_>,
        device: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let (user, session) = self.current_records(claims).await?;
        match proof {
            Reauthentication::Password(password) => {
                if self.has_second_factor(user.id).await? {
                    // A stolen session with a phished password must not be
                    // enough to take the second factor away.
                    return Err(AuthError::ReauthenticationRequired);
                }
                let share = self.hasher_share(claims)?;
                let proof = CurrentPassword {
                    user: &user,
                    session: &session,
                    password,
                    device,
                    proving: Proving::Reauthentication,
                };
                self.prove_current_password(&share, proof, client).await?;
            }
            Reauthentication::Totp(code) => {
                self.prove_factor(&user, &session, FactorProof::Code(code), device, client)
                    .await?
            }
            Reauthentication::Passkey(credential) => {
                self.prove_factor(
                    &user,
                    &session,
                    FactorProof::Passkey(credential),
                    device,
                    client,
                )
                .await?
            }
        }
        let now = self.clock.now();
        if !self.store.reauthenticated(session.id, now).await? {
            return Err(AuthError::Unauthenticated(
                super::tokens::AccessDenial::Revoked,
            ));
        }
        self.audit(Event {
            kind: AuditKind::Reauthenticated,
            user: Some(user.id),
            session: Some(session.id),
            client,
            detail: None,
        })
        .await;
        Ok(())
    }

    /// Checks a TOTP code or a passkey's assertion of a signed-in user as a
    /// sign-in's is checked.
    async fn prove_factor(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
        proof: FactorProof<'_>,
        device: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let now = self.clock.now();
        let key = self.account_key(user, device);
        let admitted = match self.admit_address(client) {
            Ok(()) => self.admit_key(&key, now).await?,
            Err(throttled) => Err(throttled),
        };
        let event = |kind, detail| Event {
            kind,
            user: Some(user.id),
            session: Some(session.id),
            client,
            detail,
        };
        if let Err(Throttled { retry_after, per }) = admitted {
            self.audit(event(AuditKind::ReauthenticationThrottled, Some(per)))
                .await;
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        let accepted = match proof {
            FactorProof::Code(code) => self.accept_totp(user.id, code, now).await?,
            FactorProof::Passkey(credential) => {
                self.accept_passkey_reauthentication(user, session, credential)
                    .await?
            }
        };
        if !accepted {
            self.guess_failed(&key, now, client).await?;
            let (detail, error) = match proof {
                FactorProof::Code(_) => ("code", AuthError::InvalidCode),
                FactorProof::Passkey(_) => ("passkey", AuthError::InvalidPasskey),
            };
            self.audit(event(AuditKind::ReauthenticationFailed, Some(detail)))
                .await;
            return Err(error);
        }
        Ok(())
    }

    /// Removes every second factor of a user, for an administrator helping
    /// one who lost them (`portcullis user mfa-reset`); audited. `false`
    /// when the user had none.
    pub async fn reset_second_factors(&self, user: UserId) -> Result<bool, AuthError> {
        let had_totp = self.store.remove_second_factors(user).await?;
        let had = self.store.remove_passkeys(user).await? > 0 || had_totp;
        let admin = ClientInfo::administrator();
        self.audit(Event {
            kind: AuditKind::SecondFactorsReset,
            user: Some(user),
            session: None,
            client: &admin,
            detail: Some(if had { "factors removed" } else { "had none" }),
        })
        .await;
        Ok(had)
    }

    /// Deletes waiting sign-ins that expired before `before`.
    pub(super) async fn purge_mfa_pending(&self, before: OffsetDateTime) -> Result<u64, AuthError> {
        Ok(self.store.purge_mfa_pending(before).await?)
    }
}

/// Ten new recovery codes, and their hashes to store.
fn new_recovery_codes() -> Result<(Vec<SecretString>, Vec<[u8; 32]>), AuthError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = generate_recovery_code().map_err(|e| AuthError::Internal(e.into()))?;
        // A generated code always reads back.
        hashes.push(recovery_code_hash(&code).unwrap_or_default());
        codes.push(code.into());
    }
    Ok((codes, hashes))
}

/// The issuer authenticator apps show beside the account: the public URL's
/// host, else "Portcullis".
pub(super) fn totp_issuer(public_url: Option<&url::Url>) -> String {
    public_url
        .and_then(url::Url::host_str)
        .map_or_else(|| "Portcullis".to_owned(), str::to_owned)
}
