//! The JSON bodies of `/api/auth/*` requests, as received. Public so that the
//! fuzz targets exercise exactly what the handlers parse.
//!
//! Passwords and mailed links' tokens are [`SecretString`]s from the moment
//! they are parsed: `Debug` prints `[REDACTED]`, so that one careless log
//! line cannot write one.

use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /api/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterBody {
    /// 3 to 32 ASCII letters, digits, `_`, `-`, `.`; starts and ends with a letter or digit.
    pub username: String,
    /// The e-mail address.
    pub email: String,
    /// 8 to 1024 characters after NFKC normalisation; not one of the 10,000 most common.
    #[schema(value_type = String)]
    pub password: SecretString,
}

/// `POST /api/auth/login`: `username` may also be the e-mail address.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    /// Username or e-mail address.
    pub username: String,
    /// The password.
    #[schema(value_type = String)]
    pub password: SecretString,
}

/// `POST /api/auth/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordBody {
    /// The password in use.
    #[schema(value_type = String)]
    pub current_password: SecretString,
    /// The password wanted.
    #[schema(value_type = String)]
    pub new_password: SecretString,
}

/// `POST /api/auth/password/forgot`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotBody {
    /// The address of the account; any text is accepted alike.
    pub email: String,
}

/// `POST /api/auth/password/reset`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetBody {
    /// The token from the mailed link's fragment (`#token=…`).
    #[schema(value_type = String)]
    pub token: SecretString,
    /// The password wanted.
    #[schema(value_type = String)]
    pub new_password: SecretString,
}

/// `POST /api/auth/email/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyBody {
    /// The token from the mailed link's fragment (`#token=…`).
    #[schema(value_type = String)]
    pub token: SecretString,
}

/// `POST /api/auth/email`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailChangeBody {
    /// The new address.
    pub email: String,
    /// The password in use.
    #[schema(value_type = String)]
    pub current_password: SecretString,
}

/// `POST /api/auth/mfa/verify`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MfaVerifyBody {
    /// A TOTP code: six digits.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub code: Option<SecretString>,
    /// A recovery code (`abcd-efgh-ijkl-mnop`; case, spaces and dashes are
    /// ignored).
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub recovery_code: Option<SecretString>,
    /// A passkey's assertion (the `PublicKeyCredential` of
    /// `navigator.credentials.get`, as JSON with base64url binary fields)
    /// answering the challenge of `POST /api/auth/mfa/webauthn/start`.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub webauthn: Option<serde_json::Value>,
}

/// `POST /api/auth/mfa/totp/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpConfirmBody {
    /// The authenticator app's current code for the new secret.
    #[schema(value_type = String)]
    pub code: SecretString,
}

/// `POST /api/auth/reauthenticate`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReauthenticateBody {
    /// The password (accounts without a second factor only).
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub password: Option<SecretString>,
    /// A TOTP code.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub code: Option<SecretString>,
    /// A passkey's assertion answering the challenge of
    /// `POST /api/auth/reauthenticate/webauthn/start`.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub webauthn: Option<serde_json::Value>,
}

/// `POST /api/auth/passkeys/register/finish`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyRegisterBody {
    /// What to call the passkey: 1 to 64 characters, no control characters
    /// (surrounding spaces are trimmed).
    pub name: String,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, as JSON
    /// with base64url binary fields.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `PATCH /api/auth/passkeys/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyRenameBody {
    /// The new name: 1 to 64 characters, no control characters.
    pub name: String,
}

/// `POST /api/auth/passkeys/login/finish`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeySignInBody {
    /// The `ceremony` of `POST /api/auth/passkeys/login/start`.
    pub ceremony: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, as JSON
    /// with base64url binary fields.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hunter2-correct-horse";

    #[test]
    fn no_body_shows_a_password_or_a_token_in_debug_output() {
        let register: RegisterBody = serde_json::from_value(serde_json::json!({
            "username": "ada", "email": "ada@example.com", "password": SECRET,
        }))
        .expect("parses");
        let login: LoginBody =
            serde_json::from_value(serde_json::json!({"username": "ada", "password": SECRET}))
                .expect("parses");
        let change: PasswordBody = serde_json::from_value(serde_json::json!({
            "current_password": SECRET, "new_password": format!("{SECRET}-new"),
        }))
        .expect("parses");
        let reset: ResetBody = serde_json::from_value(serde_json::json!({
            "token": SECRET, "new_password": SECRET,
        }))
        .expect("parses");
        let verify: VerifyBody =
            serde_json::from_value(serde_json::json!({"token": SECRET})).expect("parses");
        let email: EmailChangeBody = serde_json::from_value(serde_json::json!({
            "email": "ada@example.com", "current_password": SECRET,
        }))
        .expect("parses");
        let verify_code: MfaVerifyBody =
            serde_json::from_value(serde_json::json!({"code": SECRET, "recovery_code": SECRET}))
                .expect("parses");
        let reauth: ReauthenticateBody =
            serde_json::from_value(serde_json::json!({"password": SECRET, "code": SECRET}))
                .expect("parses");
        for shown in [
            format!("{verify_code:?}{reauth:?}"),
            format!("{register:?}"),
            format!("{login:?}"),
            format!("{change:?}"),
            format!("{reset:?}"),
            format!("{verify:?}"),
            format!("{email:?}"),
            format!("{register:#?}{login:#?}{change:#?}{reset:#?}{verify:#?}{email:#?}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("REDACTED"), "{shown}");
        }
        assert!(
            format!("{login:?}").contains("ada"),
            "the name is no secret"
        );
    }
}
