//! The JSON bodies of `/api/auth/*` requests, as received. Public so that the
//! fuzz targets exercise exactly what the handlers parse.

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
    pub password: String,
}

/// `POST /api/auth/login`: `username` may also be the e-mail address.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    /// Username or e-mail address.
    pub username: String,
    /// The password.
    pub password: String,
}

/// `POST /api/auth/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordBody {
    /// The password in use.
    pub current_password: String,
    /// The password wanted.
    pub new_password: String,
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
    pub token: String,
    /// The password wanted.
    pub new_password: String,
}

/// `POST /api/auth/email/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyBody {
    /// The token from the mailed link's fragment (`#token=…`).
    pub token: String,
}

/// `POST /api/auth/email`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailChangeBody {
    /// The new address.
    pub email: String,
    /// The password in use.
    pub current_password: String,
}
