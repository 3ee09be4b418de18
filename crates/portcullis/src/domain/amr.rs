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
    /// A sign-in at another identity provider (OpenID Connect, GitHub).
    Federated {
        /// The provider's configured id (the `idp` claim).
        idp: String,
        /// What the provider said it checked (registered values only),
        /// then `otp` and `mfa` when our own second factor followed. Never
        /// `pwd`: no password of ours was checked.
        amr: Vec<&'static str>,
    },
}

impl SignInMethod {
    /// A sign-in at `idp`, whose ID token named `provider_amr` (none for
    /// GitHub), completed with our own second factor when `second_factor`.
    pub fn federated(idp: &str, provider_amr: &[String], second_factor: bool) -> Self {
        let mut amr: Vec<&'static str> = Vec::new();
        for value in provider_amr {
            if let Some(known) = REGISTERED.iter().find(|r| **r == value.as_str())
                && !amr.contains(known)
            {
                amr.push(known);
            }
        }
        if second_factor {
            for added in ["otp", "mfa"] {
                if !amr.contains(&added) {
                    amr.push(added);
                }
            }
        }
        SignInMethod::Federated {
            idp: idp.to_owned(),
            amr,
        }
    }

    /// The same sign-in, completed with our own second factor.
    pub fn with_second_factor(self) -> Self {
        match self {
            SignInMethod::Password | SignInMethod::PasswordAndOtp => SignInMethod::PasswordAndOtp,
            SignInMethod::Federated { idp, amr } => {
                let amr: Vec<String> = amr.iter().map(|v| (*v).to_owned()).collect();
                SignInMethod::federated(&idp, &amr, true)
            }
        }
    }

    /// The `amr` values (RFC 8176): `pwd`, and with a second factor `otp`
    /// and `mfa`; for a provider, what it and we checked (maybe nothing,
    /// and then the claim is left out).
    pub fn amr(&self) -> &[&'static str] {
        match self {
            SignInMethod::Password => &["pwd"],
            SignInMethod::PasswordAndOtp => &["pwd", "otp", "mfa"],
            SignInMethod::Federated { amr, .. } => amr,
        }
    }

    /// The identity provider signed in with; `None`: a password of ours.
    pub fn idp(&self) -> Option<&str> {
        match self {
            SignInMethod::Federated { idp, .. } => Some(idp),
            SignInMethod::Password | SignInMethod::PasswordAndOtp => None,
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
            None => [SignInMethod::Password, SignInMethod::PasswordAndOtp]
                .into_iter()
                .find(|m| m.as_stored() == amr),
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
        ];
        for m in [SignInMethod::Password, SignInMethod::PasswordAndOtp]
            .into_iter()
            .chain(federated)
        {
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
        let with_code = github.with_second_factor();
        assert_eq!(with_code.amr(), ["otp", "mfa"]);
        assert_eq!(with_code.idp(), Some("github"));
    }
}
