//! Request bodies: the JSON the handlers accept, and the parsers their fields
//! go through, on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::auth::one_time_codes::{TotpSecret, recovery_code_hash};
use portcullis::domain::{Email, LinkToken, LoginName, Password, RefreshToken, Username};
use portcullis::http::bodies::{
    EmailChangeBody, ForgotBody, LoginBody, MfaVerifyBody, PasswordBody, ReauthenticateBody,
    RegisterBody, ResetBody, TotpConfirmBody, VerifyBody,
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
    // The second factors' codes, checked against a fixed secret at a fixed
    // time: whatever was typed, an answer and no panic.
    let secret = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    let at = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let code = |typed: &str| {
        if let Some(secret) = &secret {
            let _ = secret.matching_step(typed, at);
        }
        let _ = recovery_code_hash(typed);
    };
    if let Ok(body) = serde_json::from_slice::<MfaVerifyBody>(data) {
        for typed in [&body.code, &body.recovery_code].into_iter().flatten() {
            code(typed.expose_secret());
        }
    }
    if let Ok(body) = serde_json::from_slice::<TotpConfirmBody>(data) {
        code(body.code.expose_secret());
    }
    if let Ok(body) = serde_json::from_slice::<ReauthenticateBody>(data) {
        if let Some(typed) = &body.code {
            code(typed.expose_secret());
        }
        if let Some(password) = &body.password {
            let _ = Password::candidate(password.expose_secret());
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        code(text);
        let _ = TotpSecret::from_base32(text);
        if let Some(token) = RefreshToken::parse(text) {
            assert_eq!(token.encode(), text);
        }
        if let Some(token) = LinkToken::parse(text) {
            assert_eq!(token.encode(), text);
        }
    }
});
