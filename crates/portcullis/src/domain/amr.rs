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
}

/// Every method, for the stored form's inverse.
const ALL: [SignInMethod; 6] = [
    SignInMethod::Password,
    SignInMethod::PasswordAndOtp,
    SignInMethod::HardwarePasskey,
    SignInMethod::SyncedPasskey,
    SignInMethod::PasswordAndHardwarePasskey,
    SignInMethod::PasswordAndSyncedPasskey,
];

impl SignInMethod {
    /// The `amr` values (RFC 8176): `pwd`, and with a second factor `otp`
    /// and `mfa`; a passkey is `hwk` (a key bound to its device) or `swk` (a
    /// synced key, which can leave it), and alone also `user` (it verified
    /// its user, by PIN or biometrics).
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            SignInMethod::Password => &["pwd"],
            SignInMethod::PasswordAndOtp => &["pwd", "otp", "mfa"],
            SignInMethod::HardwarePasskey => &["hwk", "user"],
            SignInMethod::SyncedPasskey => &["swk", "user"],
            SignInMethod::PasswordAndHardwarePasskey => &["pwd", "hwk", "mfa"],
            SignInMethod::PasswordAndSyncedPasskey => &["pwd", "swk", "mfa"],
        }
    }

    /// As stored with the session: the values separated by spaces.
    pub fn as_stored(self) -> &'static str {
        match self {
            SignInMethod::Password => "pwd",
            SignInMethod::PasswordAndOtp => "pwd otp mfa",
            SignInMethod::HardwarePasskey => "hwk user",
            SignInMethod::SyncedPasskey => "swk user",
            SignInMethod::PasswordAndHardwarePasskey => "pwd hwk mfa",
            SignInMethod::PasswordAndSyncedPasskey => "pwd swk mfa",
        }
    }

    /// The inverse of [`SignInMethod::as_stored`].
    pub fn from_stored(text: &str) -> Option<Self> {
        ALL.into_iter().find(|m| m.as_stored() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_stored_form() {
        for m in ALL {
            assert_eq!(SignInMethod::from_stored(m.as_stored()), Some(m));
            assert_eq!(m.amr().join(" "), m.as_stored());
        }
        assert_eq!(SignInMethod::from_stored("otp"), None);
    }
}
