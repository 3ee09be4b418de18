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
