//! How a session began: the authentication methods its sign-in proved, as
//! RFC 8176 `amr` values, carried in the access token so that an upstream
//! can demand a second factor for its own sensitive routes; and, for a
//! sign-in at another provider, which one (the `idp` claim).
//!
//! One type for every way in, so that a new one (a passkey, say) is one
//! more variant here, its `amr` values and its stored form.

/// The `amr` values of RFC 8176's registry: what a provider's ID token may
/// pass on to ours. Anything else a provider says is its own vocabulary
/// and is dropped, since resource servers read our claim by the registry.
const REGISTERED: &[&str] = &[
    "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba",
    "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
];

/// The ways a session can begin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInMethod {
    /// A password alone (and registration, which sets one).
    Password,
    /// A password and a second factor: a TOTP code, or a recovery code (a
    /// one-time password too, so it is `otp` as well).
    PasswordAndOtp,
    /// A passkey alone, user-verified (usernameless sign-in), bound to one
    /// authenticator (not backup-eligible): `hwk` and `user`.
    HardwarePasskey,
    /// A passkey alone, user-verified, that its provider may copy to other
    /// devices (backup-eligible, "synced"): `swk` and `user`.
    SyncedPasskey,
    /// A password and a device-bound passkey: `pwd`, `hwk`, `mfa`.
    PasswordAndHardwarePasskey,
    /// A password and a synced passkey: `pwd`, `swk`, `mfa`.
    PasswordAndSyncedPasskey,
    /// A sign-in at another identity provider (OpenID Connect, GitHub).
    Federated {
        /// The provider's configured id (the `idp` claim).
        idp: String,
        /// What the provider said it checked (registered values only),
        /// then, when our own second factor followed, its value (`otp`,
        /// `hwk` or `swk`) and `mfa`. Never `pwd`: no password of ours was
        /// checked.
        amr: Vec<&'static str>,
    },
}

/// The second factor of ours that completed a waiting sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorKind {
    /// A TOTP code or a recovery code: `otp`.
    Otp,
    /// A passkey bound to its authenticator: `hwk`.
    HardwarePasskey,
    /// A synced (backup-eligible) passkey: `swk`.
    SyncedPasskey,
}

impl SecondFactorKind {
    /// The `amr` values the factor adds to the first step's.
    fn amr(self) -> [&'static str; 2] {
        match self {
            SecondFactorKind::Otp => ["otp", "mfa"],
            SecondFactorKind::HardwarePasskey => ["hwk", "mfa"],
            SecondFactorKind::SyncedPasskey => ["swk", "mfa"],
        }
    }
}

/// Every method that is not a provider's, for the stored form's inverse.
const OWN: [SignInMethod; 6] = [
    SignInMethod::Password,
    SignInMethod::PasswordAndOtp,
    SignInMethod::HardwarePasskey,
    SignInMethod::SyncedPasskey,
    SignInMethod::PasswordAndHardwarePasskey,
    SignInMethod::PasswordAndSyncedPasskey,
];

impl SignInMethod {
    /// A sign-in at `idp`, whose ID token named `provider_amr` (none for
    /// GitHub), completed with our own TOTP or recovery code when
    /// `second_factor`.
    pub fn federated(idp: &str, provider_amr: &[String], second_factor: bool) -> Self {
        let otp = SecondFactorKind::Otp.amr();
        let added: &[&'static str] = if second_factor { &otp } else { &[] };
        Self::federated_with(idp, provider_amr, added)
    }

    fn federated_with(idp: &str, provider_amr: &[String], added: &[&'static str]) -> Self {
        let mut amr: Vec<&'static str> = Vec::new();
        for value in provider_amr {
            if let Some(known) = REGISTERED.iter().find(|r| **r == value.as_str())
                && !amr.contains(known)
            {
                amr.push(known);
            }
        }
        for added in added {
            if !amr.contains(added) {
                amr.push(added);
            }
        }
        SignInMethod::Federated {
            idp: idp.to_owned(),
            amr,
        }
    }

    /// The same sign-in, completed with our own second factor `factor`.
    pub fn with_second_factor(self, factor: SecondFactorKind) -> Self {
        match self {
            SignInMethod::Password
            | SignInMethod::PasswordAndOtp
            | SignInMethod::PasswordAndHardwarePasskey
            | SignInMethod::PasswordAndSyncedPasskey => match factor {
                SecondFactorKind::Otp => SignInMethod::PasswordAndOtp,
                SecondFactorKind::HardwarePasskey => SignInMethod::PasswordAndHardwarePasskey,
                SecondFactorKind::SyncedPasskey => SignInMethod::PasswordAndSyncedPasskey,
            },
            // A passkey alone is a whole sign-in: it never waits for a
            // second factor, and nothing is added to it.
            SignInMethod::HardwarePasskey | SignInMethod::SyncedPasskey => self,
            SignInMethod::Federated { idp, amr } => {
                let amr: Vec<String> = amr.iter().map(|v| (*v).to_owned()).collect();
                SignInMethod::federated_with(&idp, &amr, &factor.amr())
            }
        }
    }

    /// The `amr` values (RFC 8176): `pwd`, and with a second factor `otp`
    /// and `mfa`; a passkey is `hwk` (a key bound to its device) or `swk` (a
    /// synced key, which can leave it), and alone also `user` (it verified
    /// its user, by PIN or biometrics); for a provider, what it and we
    /// checked (maybe nothing, and then the claim is left out).
    pub fn amr(&self) -> &[&'static str] {
        match self {
            SignInMethod::Password => &["pwd"],
            SignInMethod::PasswordAndOtp => &["pwd", "otp", "mfa"],
            SignInMethod::HardwarePasskey => &["hwk", "user"],
            SignInMethod::SyncedPasskey => &["swk", "user"],
            SignInMethod::PasswordAndHardwarePasskey => &["pwd", "hwk", "mfa"],
            SignInMethod::PasswordAndSyncedPasskey => &["pwd", "swk", "mfa"],
            SignInMethod::Federated { amr, .. } => amr,
        }
    }

    /// The identity provider signed in with; `None`: a password or passkey
    /// of ours.
    pub fn idp(&self) -> Option<&str> {
        match self {
            SignInMethod::Federated { idp, .. } => Some(idp),
            SignInMethod::Password
            | SignInMethod::PasswordAndOtp
            | SignInMethod::HardwarePasskey
            | SignInMethod::SyncedPasskey
            | SignInMethod::PasswordAndHardwarePasskey
            | SignInMethod::PasswordAndSyncedPasskey => None,
        }
    }

    /// The `amr` as stored with the session: the values separated by spaces
    /// (the provider, if any, is stored beside it).
    pub fn as_stored(&self) -> String {
        self.amr().join(" ")
    }

    /// The inverse of [`SignInMethod::as_stored`] and [`SignInMethod::idp`].
    pub fn from_stored(amr: &str, idp: Option<&str>) -> Option<Self> {
        match idp {
            Some(idp) => {
                let values: Vec<String> = amr.split_whitespace().map(str::to_owned).collect();
                let method = SignInMethod::federated(idp, &values, false);
                // Anything unregistered in the column is corruption, not data.
                (method.amr().len() == values.len()).then_some(method)
            }
            None => OWN.into_iter().find(|m| m.as_stored() == amr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_stored_form() {
        let federated = [
            SignInMethod::federated("corp", &[], false),
            SignInMethod::federated("corp", &["pwd".into(), "hwk".into()], true),
            SignInMethod::federated("corp", &["pwd".into()], false)
                .with_second_factor(SecondFactorKind::SyncedPasskey),
        ];
        for m in OWN.into_iter().chain(federated) {
            assert_eq!(
                SignInMethod::from_stored(&m.as_stored(), m.idp()),
                Some(m.clone())
            );
        }
        assert_eq!(SignInMethod::from_stored("otp", None), None);
        assert_eq!(SignInMethod::from_stored("magic", Some("corp")), None);
    }

    #[test]
    fn a_provider_passes_on_registered_values_only_and_never_our_password() {
        let m =
            SignInMethod::federated("corp", &["magic".into(), "hwk".into(), "hwk".into()], false);
        assert_eq!(m.amr(), ["hwk"]);
        assert_eq!(m.idp(), Some("corp"));
        let github = SignInMethod::federated("github", &[], false);
        assert!(github.amr().is_empty());
        let with_code = github.clone().with_second_factor(SecondFactorKind::Otp);
        assert_eq!(with_code.amr(), ["otp", "mfa"]);
        assert_eq!(with_code.idp(), Some("github"));
        let with_key = github.with_second_factor(SecondFactorKind::HardwarePasskey);
        assert_eq!(with_key.amr(), ["hwk", "mfa"]);
    }

    #[test]
    fn a_second_factor_after_a_password_names_itself() {
        let p = || SignInMethod::Password;
        assert_eq!(
            p().with_second_factor(SecondFactorKind::Otp),
            SignInMethod::PasswordAndOtp
        );
        assert_eq!(
            p().with_second_factor(SecondFactorKind::HardwarePasskey)
                .amr(),
            ["pwd", "hwk", "mfa"]
        );
        assert_eq!(
            p().with_second_factor(SecondFactorKind::SyncedPasskey)
                .amr(),
            ["pwd", "swk", "mfa"]
        );
        // A provider's own `hwk` is not repeated when our passkey follows.
        let corp = SignInMethod::federated("corp", &["hwk".into()], false);
        assert_eq!(
            corp.with_second_factor(SecondFactorKind::HardwarePasskey)
                .amr(),
            ["hwk", "mfa"]
        );
    }
}
