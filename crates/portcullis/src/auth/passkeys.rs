//! Passkeys (WebAuthn): registering them, naming and removing them, and
//! using one — alone, as a usernameless sign-in; after a password, as the
//! second factor; or to prove a signed-in user again.
//!
//! webauthn-rs checks every ceremony (origin, relying-party id, challenge,
//! signature, user verification, counter); what is ours is where a
//! ceremony's state waits between its start and its finish, and the rules
//! of sign-in around it. The state waits in the database, so that any
//! instance behind a load balancer can finish what another started, under
//! a key tied to what it is for: the session (registration,
//! re-authentication), the pending cookie (second factor), or a random id
//! handed to the browser (usernameless sign-in, where nobody is known yet).
//! Taking it deletes it: each challenge is answered once.
//!
//! A passkey assertion is checked like a password is: it spends an attempt
//! of the client address's budget and of the account's (or device's), and a
//! bad one counts as a failed sign-in, so a passkey sign-in cannot be used
//! to walk around the limits of the password form.

use std::time::Duration;

use portcullis_verifier::Claims;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tracing::instrument;
use url::Url;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Webauthn, WebauthnBuilder,
};

use super::audit::{AuditKind, Event};
use super::sign_in::{Admission, LoginFailure, password_digest};
use super::{Auth, AuthError, ClientInfo, SignedIn};
use crate::domain::{LinkToken, SecondFactorKind, SignInMethod, UserId};
use crate::store::{CeremonyRecord, PasskeyDeletion, PasskeyRecord, SessionRecord, UserRecord};

/// How long a ceremony waits for its finish: WebAuthn's own timeout for the
/// browser's dialogue is five minutes, and the state is worthless after it.
const CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The longest name a passkey may have, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

/// The most passkeys one account may hold: enough for every device a person
/// owns, and a bound on what a sign-in with a password loads.
const MAX_PASSKEYS: usize = 20;

/// What a ceremony is for; part of its key, so that a challenge given for
/// one purpose cannot finish another.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Register,
    SignIn,
    SecondFactor,
    Reauthenticate,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
            Purpose::Reauthenticate => "reauthenticate",
        }
    }

    /// The stored key of the ceremony of this purpose under `key`.
    fn id_hash(self, key: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(self.as_str())
            .chain_update(b":")
            .chain_update(key)
            .finalize()
            .into()
    }
}

/// The relying party: built from `public_url`, whose host is the
/// relying-party id and whose origin is the only one accepted.
pub(super) fn relying_party(public_url: Option<&Url>) -> Option<Webauthn> {
    let url = public_url?;
    let host = url.host_str()?;
    let mut origin = url.clone();
    origin.set_path("");
    origin.set_query(None);
    origin.set_fragment(None);
    match WebauthnBuilder::new(host, &origin).and_then(|b| b.rp_name("Portcullis").build()) {
        Ok(webauthn) => Some(webauthn),
        Err(e) => {
            // A host that cannot be a relying-party id (an IP address, say):
            // passkeys are off rather than the server.
            tracing::warn!(error = %e, "public_url cannot be a WebAuthn relying party: passkeys are off");
            None
        }
    }
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone)]
pub struct PasskeyView {
    /// Its id, for renaming and deleting.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last signed in or proved its user; `None`: never.
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<PasskeyRecord> for PasskeyView {
    fn from(r: PasskeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A usernameless sign-in begun: the options for
/// `navigator.credentials.get`, and the id that finishes it.
#[derive(Debug)]
pub struct PasskeySignInStart {
    /// The ceremony's id, sent back with the assertion.
    pub ceremony: String,
    /// The request options.
    pub options: RequestChallengeResponse,
}

/// Checks a passkey's name: trimmed, 1 to 64 characters, no control
/// characters.
fn passkey_name(name: &str) -> Result<String, AuthError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_PASSKEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AuthError::InvalidPasskeyName);
    }
    Ok(name.to_owned())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, AuthError> {
    serde_json::to_string(value).map_err(|e| AuthError::Internal(e.into()))
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, AuthError> {
    serde_json::from_str(text).map_err(|e| AuthError::Internal(e.into()))
}

/// How a passkey-proved sign-in is named in `amr`: a backup-eligible
/// (synced) credential is a software key, one bound to its authenticator a
/// hardware key.
fn method(result: &AuthenticationResult) -> SignInMethod {
    if result.backup_eligible() {
        SignInMethod::SyncedPasskey
    } else {
        SignInMethod::HardwarePasskey
    }
}

/// The same distinction for a passkey that is a second factor.
fn second_factor(result: &AuthenticationResult) -> SecondFactorKind {
    if result.backup_eligible() {
        SecondFactorKind::SyncedPasskey
    } else {
        SecondFactorKind::HardwarePasskey
    }
}

impl Auth {
    /// The relying party, or [`AuthError::PasskeysUnavailable`] without
    /// `public_url`.
    fn webauthn(&self) -> Result<&Webauthn, AuthError> {
        self.webauthn
            .as_deref()
            .ok_or(AuthError::PasskeysUnavailable)
    }

    /// Whether passkeys are on (`public_url` is set).
    pub fn passkeys_enabled(&self) -> bool {
        self.webauthn.is_some()
    }

    /// Whether the user has a passkey.
    pub(super) async fn has_passkey(&self, user: UserId) -> Result<bool, AuthError> {
        Ok(self.webauthn.is_some() && !self.store.passkeys(user).await?.is_empty())
    }

    async fn begin_ceremony<S: Serialize>(
        &self,
        purpose: Purpose,
        key: &str,
        user: Option<UserId>,
        state: &S,
    ) -> Result<(), AuthError> {
        let record = CeremonyRecord {
            purpose: purpose.as_str().to_owned(),
            user_id: user,
            state: to_json(state)?,
        };
        let expires = self.clock.now() + CEREMONY_LIFETIME;
        self.store
            .insert_ceremony(&purpose.id_hash(key), &record, expires)
            .await?;
        Ok(())
    }

    async fn take_ceremony(
        &self,
        purpose: Purpose,
        key: &str,
    ) -> Result<Option<CeremonyRecord>, AuthError> {
        Ok(self
            .store
            .take_ceremony(&purpose.id_hash(key), purpose.as_str(), self.clock.now())
            .await?)
    }

    /// The user's passkeys, parsed.
    async fn user_passkeys(
        &self,
        user: UserId,
    ) -> Result<Vec<(PasskeyRecord, Passkey)>, AuthError> {
        self.store
            .passkeys(user)
            .await?
            .into_iter()
            .map(|r| {
                let passkey = from_json(&r.passkey)?;
                Ok((r, passkey))
            })
            .collect()
    }

    /// Begins registering a passkey for the signed-in user (a recent
    /// authentication needed): the options for `navigator.credentials.create`.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn begin_passkey_registration(
        &self,
        claims: &Claims,
    ) -> Result<serde_json::Value, AuthError> {
        let webauthn = self.webauthn()?;
        let (user, session) = self.current_records(claims).await?;
        self.require_recent(&session)?;
        let existing = self.store.passkeys(user.id).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(AuthError::TooManyPasskeys);
        }
        let exclude = existing
            .into_iter()
            .map(|r| r.credential_id.into())
            .collect::<Vec<_>>();
        let (options, state) = webauthn
            .start_passkey_registration(
                user.id.as_uuid(),
                &user.username,
                &user.username,
                Some(exclude),
            )
            .map_err(|e| AuthError::Internal(e.into()))?;
        // A discoverable credential: usernameless sign-in finds the account
        // from the key alone. webauthn-rs asks for none by default (and does
        // not export the type to change it with), and its state does not
        // depend on it.
        let mut options =
            serde_json::to_value(&options).map_err(|e| AuthError::Internal(e.into()))?;
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "required".into());
            selection.insert("requireResidentKey".into(), true.into());
        }
        self.begin_ceremony(
            Purpose::Register,
            &session.id.to_string(),
            Some(user.id),
            &state,
        )
        .await?;
        Ok(options)
    }

    /// Finishes a registration begun on this session: the new passkey.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn finish_passkey_registration(
        &self,
        claims: &Claims,
        name: &str,
        credential: &serde_json::Value,
        client: &ClientInfo,
    ) -> Result<PasskeyView, AuthError> {
        let webauthn = self.webauthn()?;
        let name = passkey_name(name)?;
        let (user, session) = self.current_records(claims).await?;
        self.require_recent(&session)?;
        let credential: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
            .map_err(|_| AuthError::InvalidAttestation)?;
        let ceremony = self
            .take_ceremony(Purpose::Register, &session.id.to_string())
            .await?
            .filter(|c| c.user_id == Some(user.id))
            .ok_or(AuthError::InvalidAttestation)?;
        let state: PasskeyRegistration = from_json(&ceremony.state)?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey registration refused");
                AuthError::InvalidAttestation
            })?;
        let now = self.clock.now();
        let record = PasskeyRecord {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user.id,
            credential_id: passkey.cred_id().to_vec(),
            passkey: to_json(&passkey)?,
            sign_count: 0,
            name,
            created_at: now,
            last_used_at: None,
        };
        if !self.store.insert_passkey(&record).await? {
            return Err(AuthError::PasskeyExists);
        }
        self.audit(Event {
            kind: AuditKind::PasskeyAdded,
            user: Some(user.id),
            session: Some(session.id),
            client,
            detail: None,
        })
        .await;
        Ok(record.into())
    }

    /// The signed-in user's passkeys.
    pub async fn list_passkeys(&self, claims: &Claims) -> Result<Vec<PasskeyView>, AuthError> {
        self.webauthn()?;
        let (user, _) = self.current_records(claims).await?;
        Ok(self
            .store
            .passkeys(user.id)
            .await?
            .into_iter()
            .map(PasskeyView::from)
            .collect())
    }

    /// Renames one of the signed-in user's passkeys (a recent authentication
    /// needed).
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn rename_passkey(
        &self,
        claims: &Claims,
        id: &str,
        name: &str,
    ) -> Result<(), AuthError> {
        self.webauthn()?;
        let name = passkey_name(name)?;
        let (user, session) = self.current_records(claims).await?;
        self.require_recent(&session)?;
        if !self.store.rename_passkey(user.id, id, &name).await? {
            return Err(AuthError::PasskeyNotFound);
        }
        Ok(())
    }

    /// Deletes one of the signed-in user's passkeys (a recent authentication
    /// needed), unless it is the account's last way to sign in.
    #[instrument(skip_all, fields(user = %claims.sub))]
    pub async fn delete_passkey(
        &self,
        claims: &Claims,
        id: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.webauthn()?;
        let (user, session) = self.current_records(claims).await?;
        self.require_recent(&session)?;
        match self
            .store
            .delete_passkey(user.id, id, self.clock.now())
            .await?
        {
            PasskeyDeletion::Deleted => {}
            PasskeyDeletion::NotFound => return Err(AuthError::PasskeyNotFound),
            PasskeyDeletion::LastMethod => return Err(AuthError::LastSignInMethod),
        }
        self.audit(Event {
            kind: AuditKind::PasskeyRemoved,
            user: Some(user.id),
            session: Some(session.id),
            client,
            detail: None,
        })
        .await;
        Ok(())
    }

    /// Begins a usernameless sign-in: a challenge any of this site's
    /// passkeys may answer.
    pub async fn begin_passkey_sign_in(&self) -> Result<PasskeySignInStart, AuthError> {
        let webauthn = self.webauthn()?;
        let (mut options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| AuthError::Internal(e.into()))?;
        // The page decides between the autofill UI and the button; the
        // options leave that to it.
        options.mediation = None;
        let ceremony = LinkToken::generate().map_err(|e| AuthError::Internal(e.into()))?;
        let id = ceremony.encode();
        self.begin_ceremony(Purpose::SignIn, &id, None, &state)
            .await?;
        Ok(PasskeySignInStart {
            ceremony: id,
            options,
        })
    }

    /// Finishes a usernameless sign-in; counted and audited as a sign-in,
    /// admitted as every sign-in is.
    #[instrument(skip_all)]
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: &serde_json::Value,
        device: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        let result = self
            .check_passkey_sign_in(ceremony, credential, device, client)
            .await;
        self.record_sign_in(result, Some("passkey"), client).await
    }

    async fn check_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: &serde_json::Value,
        device: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn, LoginFailure> {
        let webauthn = self.webauthn()?;
        self.admit_address(client)
            .map_err(LoginFailure::Throttled)?;
        let began = self.clock.now();
        let refused = |user| {
            // Without a user, only the address pays.
            self.limits.sign_in_failed(client.addr);
            LoginFailure::WrongPasskey(user)
        };
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential.clone())
        else {
            return Err(refused(None));
        };
        let Some(state) = self.take_ceremony(Purpose::SignIn, ceremony).await? else {
            return Err(refused(None));
        };
        let state: DiscoverableAuthentication = from_json(&state.state)?;
        let Ok((handle, credential_id)) =
            webauthn.identify_discoverable_authentication(&credential)
        else {
            return Err(refused(None));
        };
        let Some(record) = self.store.passkey_by_credential(credential_id).await? else {
            return Err(refused(None));
        };
        if record.user_id.as_uuid() != handle {
            return Err(refused(Some(record.user_id)));
        }
        let user = match self.store.user_by_id(record.user_id).await? {
            Some(user) if !user.disabled => user,
            _ => return Err(refused(Some(record.user_id))),
        };
        let key = self.account_key(&user, device);
        self.admit_key(&key, began)
            .await?
            .map_err(LoginFailure::Throttled)?;
        let mut passkey: Passkey = from_json(&record.passkey)?;
        let checked = webauthn.finish_discoverable_authentication(
            &credential,
            state,
            &[DiscoverableKey::from(&passkey)],
        );
        let result = match checked {
            Ok(result) if self.passkey_used(&record, &mut passkey, &result).await? => result,
            outcome => {
                if let Err(e) = outcome {
                    tracing::info!(error = %e, "passkey assertion refused");
                }
                let failures = self.guess_failed(&key, began, client).await?;
                tracing::info!(failures, "passkey sign-in failed");
                return Err(LoginFailure::WrongPasskey(Some(user.id)));
            }
        };
        let admission = Admission {
            password_digest: password_digest(&user.password_hash),
            user,
            key: &key,
            began,
            method: method(&result),
        };
        self.admit(admission, client).await
    }

    /// Records an accepted assertion: the passkey's new counter and last
    /// use. `false` when the store refuses the counter (it went back: a
    /// cloned authenticator, or the same assertion twice at once) or the
    /// passkey was deleted meanwhile.
    async fn passkey_used(
        &self,
        record: &PasskeyRecord,
        passkey: &mut Passkey,
        result: &AuthenticationResult,
    ) -> Result<bool, AuthError> {
        passkey.update_credential(result);
        let used = self
            .store
            .passkey_used(
                &record.id,
                &to_json(passkey)?,
                i64::from(result.counter()),
                self.clock.now(),
            )
            .await?;
        if !used {
            tracing::warn!(passkey = %record.id, counter = result.counter(), "passkey counter did not advance: refused as a possible clone");
        }
        Ok(used)
    }

    /// The request options for the user's own passkeys, stored as a
    /// ceremony of `purpose` under `key`.
    async fn begin_own_passkey_check(
        &self,
        user: UserId,
        purpose: Purpose,
        key: &str,
    ) -> Result<RequestChallengeResponse, AuthError> {
        let webauthn = self.webauthn()?;
        let passkeys: Vec<Passkey> = self
            .user_passkeys(user)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        if passkeys.is_empty() {
            return Err(AuthError::NoSecondFactor);
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| AuthError::Internal(e.into()))?;
        self.begin_ceremony(purpose, key, Some(user), &state)
            .await?;
        Ok(options)
    }

    /// Checks an assertion of one of `user`'s passkeys against the
    /// ceremony of `purpose` under `key`; the accepted result, or `None`
    /// (refused).
    async fn check_own_passkey(
        &self,
        user: UserId,
        purpose: Purpose,
        key: &str,
        credential: &serde_json::Value,
    ) -> Result<Option<AuthenticationResult>, AuthError> {
        let webauthn = self.webauthn()?;
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential.clone())
        else {
            return Ok(None);
        };
        let Some(ceremony) = self
            .take_ceremony(purpose, key)
            .await?
            .filter(|c| c.user_id == Some(user))
        else {
            return Ok(None);
        };
        let state: PasskeyAuthentication = from_json(&ceremony.state)?;
        let passkeys = self.user_passkeys(user).await?;
        let Some((record, mut passkey)) = passkeys
            .into_iter()
            .find(|(r, _)| r.credential_id == credential.get_credential_id())
        else {
            return Ok(None);
        };
        match webauthn.finish_passkey_authentication(&credential, &state) {
            Ok(result) if self.passkey_used(&record, &mut passkey, &result).await? => {
                Ok(Some(result))
            }
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::info!(error = %e, "passkey assertion refused");
                Ok(None)
            }
        }
    }

    /// The challenge for the passkey that completes the sign-in waiting
    /// under the pending cookie `cookie`.
    pub async fn begin_passkey_second_factor(
        &self,
        cookie: Option<&str>,
    ) -> Result<RequestChallengeResponse, AuthError> {
        self.webauthn()?;
        let token = cookie
            .and_then(LinkToken::parse)
            .ok_or(AuthError::MfaExpired)?;
        let pending = self
            .store
            .mfa_pending(&token.hash(), self.clock.now())
            .await?
            .ok_or(AuthError::MfaExpired)?;
        self.begin_own_passkey_check(pending.user_id, Purpose::SecondFactor, &token.encode())
            .await
    }

    /// Checks a passkey as the second factor of a waiting sign-in (see
    /// [`super::mfa`]): which kind of key it was, or `None` (refused).
    pub(super) async fn accept_passkey_second_factor(
        &self,
        user: UserId,
        token: &LinkToken,
        credential: &serde_json::Value,
    ) -> Result<Option<SecondFactorKind>, AuthError> {
        Ok(self
            .check_own_passkey(user, Purpose::SecondFactor, &token.encode(), credential)
            .await?
            .map(|result| second_factor(&result)))
    }

    /// The challenge for re-authenticating the signed-in user with a passkey.
    pub async fn begin_passkey_reauthentication(
        &self,
        claims: &Claims,
    ) -> Result<RequestChallengeResponse, AuthError> {
        self.webauthn()?;
        let (user, session) = self.current_records(claims).await?;
        self.begin_own_passkey_check(user.id, Purpose::Reauthenticate, &session.id.to_string())
            .await
    }

    /// Checks a passkey to prove the signed-in user again; whether it was
    /// accepted.
    pub(super) async fn accept_passkey_reauthentication(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
        credential: &serde_json::Value,
    ) -> Result<bool, AuthError> {
        Ok(self
            .check_own_passkey(
                user.id,
                Purpose::Reauthenticate,
                &session.id.to_string(),
                credential,
            )
            .await?
            .is_some())
    }

    /// Deletes ceremonies that expired before `before`.
    pub(super) async fn purge_ceremonies(&self, before: OffsetDateTime) -> Result<u64, AuthError> {
        Ok(self.store.purge_ceremonies(before).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(passkey_name("  Laptop ").ok().as_deref(), Some("Laptop"));
        assert!(passkey_name("   ").is_err());
        assert!(passkey_name(&"x".repeat(65)).is_err());
        assert!(passkey_name("a\u{0}b").is_err());
        assert!(passkey_name(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn the_relying_party_needs_a_public_url() {
        assert!(relying_party(None).is_none());
        let url = Url::parse("https://auth.example.com/").ok();
        assert!(relying_party(url.as_ref()).is_some());
    }

    #[test]
    fn ceremony_keys_differ_by_purpose() {
        assert_ne!(
            Purpose::Register.id_hash("k"),
            Purpose::Reauthenticate.id_hash("k")
        );
    }
}
