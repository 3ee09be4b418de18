//! How a session began: the authentication methods its sign-in proved, as
//! RFC 8176 `amr` values, carried in the access token so that an upstream
//! can demand a second factor for its own sensitive routes.

/// The ways a session can begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// A password alone (and registration, which sets one).
    Password,
    /// A password and a second factor: a TOTP code, or a recovery code (a
    /// one-time password too, so it is `otp` as well).
    PasswordAndOtp,
}

impl SignInMethod {
    /// The `amr` values (RFC 8176): `pwd`, and with a second factor `otp`
    /// and `mfa`.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            SignInMethod::Password => &["pwd"],
            SignInMethod::PasswordAndOtp => &["pwd", "otp", "mfa"],
        }
    }

    /// As stored with the session: the values separated by spaces.
    pub fn as_stored(self) -> &'static str {
        match self {
            SignInMethod::Password => "pwd",
            SignInMethod::PasswordAndOtp => "pwd otp mfa",
        }
    }

    /// The inverse of [`SignInMethod::as_stored`].
    pub fn from_stored(text: &str) -> Option<Self> {
        [SignInMethod::Password, SignInMethod::PasswordAndOtp]
            .into_iter()
            .find(|m| m.as_stored() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_stored_form() {
        for m in [SignInMethod::Password, SignInMethod::PasswordAndOtp] {
            assert_eq!(SignInMethod::from_stored(m.as_stored()), Some(m));
            assert_eq!(m.amr().join(" "), m.as_stored());
        }
        assert_eq!(SignInMethod::from_stored("otp"), None);
    }
}
