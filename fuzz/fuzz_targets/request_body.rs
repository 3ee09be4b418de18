//! Request bodies: the JSON the handlers accept, and the parsers their fields
//! go through, on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::domain::{Email, LinkToken, LoginName, Password, RefreshToken, Username};
use portcullis::http::bodies::{
    EmailChangeBody, ForgotBody, LoginBody, PasswordBody, RegisterBody, ResetBody, VerifyBody,
};
use secrecy::ExposeSecret;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<RegisterBody>(data) {
        let _ = Username::parse(&body.username);
        let _ = Email::parse(&body.email);
        let _ = Password::new_password(body.password.expose_secret());
    }
    if let Ok(body) = serde_json::from_slice::<LoginBody>(data) {
        let name = LoginName::new(&body.username);
        let _ = (name.key().len(), name.is_too_long());
        let _ = Password::candidate(body.password.expose_secret());
    }
    if let Ok(body) = serde_json::from_slice::<PasswordBody>(data) {
        let _ = Password::new_password(body.new_password.expose_secret());
    }
    if let Ok(body) = serde_json::from_slice::<ForgotBody>(data) {
        let _ = LoginName::new(&body.email).key().len();
        let _ = Email::parse(&body.email);
    }
    if let Ok(body) = serde_json::from_slice::<ResetBody>(data) {
        let _ = LinkToken::parse(body.token.expose_secret());
        let _ = Password::new_password(body.new_password.expose_secret());
    }
    if let Ok(body) = serde_json::from_slice::<VerifyBody>(data) {
        let _ = LinkToken::parse(body.token.expose_secret());
    }
    if let Ok(body) = serde_json::from_slice::<EmailChangeBody>(data) {
        let _ = Email::parse(&body.email);
        let _ = Password::candidate(body.current_password.expose_secret());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(token) = RefreshToken::parse(text) {
            assert_eq!(token.encode(), text);
        }
        if let Some(token) = LinkToken::parse(text) {
            assert_eq!(token.encode(), text);
        }
    }
});
