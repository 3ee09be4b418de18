//! The JSON bodies of `/api/auth/*` requests, as received. Public so that the
//! fuzz targets exercise exactly what the handlers parse.

use serde::Deserialize;

/// `POST /api/auth/register`.
#[derive(Debug, Deserialize)]
pub struct RegisterBody {
    /// The wanted username.
    pub username: String,
    /// The e-mail address.
    pub email: String,
    /// The password.
    pub password: String,
}

/// `POST /api/auth/login`: `username` may also be the e-mail address.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    /// Username or e-mail address.
    pub username: String,
    /// The password.
    pub password: String,
}

/// `POST /api/auth/password`.
#[derive(Debug, Deserialize)]
pub struct PasswordBody {
    /// The password in use.
    pub current_password: String,
    /// The password wanted.
    pub new_password: String,
}
