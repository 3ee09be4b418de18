//! The second factors' cryptography, without storage or policy: TOTP codes
//! (RFC 6238 as authenticator apps implement it), the sealing of TOTP
//! secrets at rest, and recovery codes.
//!
//! - **TOTP**: HMAC-SHA-1, 6 digits, 30-second steps — the parameters every
//!   authenticator app supports (most ignore any other). A code is accepted
//!   from the step before to the step after the server's (a phone's clock
//!   a little off, a code typed as it changed); which step matched is
//!   returned, so that the caller can refuse that step, and every earlier
//!   one, from then on.
//! - **Sealing**: a secret must be readable to check a code, so it cannot
//!   be hashed; it is encrypted with XChaCha20-Poly1305 under a key that
//!   lives outside the database (`mfa_key_file`), with the user id as
//!   associated data, so a copy of the database alone yields no secrets and
//!   a sealed secret copied onto another account's row does not open.
//! - **Recovery codes**: 80 random bits each, written as four groups of
//!   four base32 letters. Stored as a plain SHA-256: at 80 bits an offline
//!   search is out of reach without a slow hash, and the check must not
//!   cost an argon2 run per code.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use totp_rs::{Algorithm, TOTP};

use crate::domain::UserId;

/// Length of a TOTP secret: 160 bits, the HMAC-SHA-1 block RFC 4226 advises.
const SECRET_BYTES: usize = 20;
/// Digits of a code.
const DIGITS: usize = 6;
/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Length of an XChaCha20-Poly1305 nonce.
const NONCE_BYTES: usize = 24;
/// How many recovery codes an enrolment (or a regeneration) gives.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code, without its separators: 16 × 5 bits.
const RECOVERY_CODE_CHARS: usize = 16;
/// RFC 4648 base32, lower case: no 0/1/8/9 to confuse with O/I/B/g.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Longer input than this is no code of ours, and is not looked at further.
const MAX_CODE_INPUT: usize = 64;

/// Randomness failed; nothing can be issued.
#[derive(Debug, thiserror::Error)]
#[error("no randomness")]
pub struct NoRandomness(#[from] getrandom::Error);

/// A TOTP secret in the clear: only while enrolling or checking a code.
pub struct TotpSecret(SecretSlice<u8>);

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Result<Self, NoRandomness> {
        let mut bytes = vec![0; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes.into()))
    }

    /// The secret as an authenticator app reads it from base32 (case,
    /// spaces and padding ignored); `None` for anything else or a secret
    /// shorter than 128 bits. What an app does, and so what tests do.
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = Vec::new();
        let (mut buffer, mut bits) = (0u32, 0u32);
        for c in text.chars().filter(|c| !matches!(c, ' ' | '=')) {
            let value = BASE32
                .iter()
                .position(|b| char::from(*b) == c.to_ascii_lowercase())?;
            buffer = (buffer << 5) | u32::try_from(value).ok()?;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            }
        }
        (bytes.len() >= 16).then(|| Self(bytes.into()))
    }

    /// The secret in base32 without padding, as authenticator apps take it.
    pub fn base32(&self) -> String {
        base32(self.0.expose_secret())
    }

    /// The `otpauth://` URI that authenticator apps read from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let issuer = utf8_percent_encode(issuer, NON_ALPHANUMERIC);
        let account = utf8_percent_encode(account, NON_ALPHANUMERIC);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            self.base32()
        )
    }

    fn totp(&self) -> Option<TOTP> {
        // Only a secret shorter than 128 bits is refused, and ours are 160.
        TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS,
            self.0.expose_secret().to_vec(),
        )
        .ok()
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: i64) -> Option<String> {
        let seconds = u64::try_from(step).ok()?.checked_mul(STEP_SECONDS)?;
        Some(self.totp()?.generate(seconds))
    }

    /// The time step in which `code` is the code, among the step of `now`
    /// and the ones either side; `None` when it is none of them.
    pub fn matching_step(&self, code: &str, now: OffsetDateTime) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = step_of(now);
        let mut found = None;
        // Every candidate is compared, in constant time, so that the answer
        // takes as long whichever (if any) matched.
        for step in [current - 1, current, current + 1] {
            if let Some(expected) = self.code_at_step(step)
                && bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
            {
                found = found.or(Some(step));
            }
        }
        found
    }
}

/// The TOTP time step of `now`.
pub fn step_of(now: OffsetDateTime) -> i64 {
    now.unix_timestamp()
        .div_euclid(i64::try_from(STEP_SECONDS).unwrap_or(30))
}

/// Encrypts and decrypts TOTP secrets with the key of `mfa_key_file`.
#[derive(Clone)]
pub struct SecretSealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSealer(<redacted>)")
    }
}

/// A sealed secret that does not open: another key, another account's row,
/// or damaged.
#[derive(Debug, thiserror::Error)]
#[error("the TOTP secret does not open with this key")]
pub struct Unsealable;

impl SecretSealer {
    /// A sealer with a 256-bit key; `None` for a key of another length.
    pub fn new(key: &SecretSlice<u8>) -> Option<Self> {
        let key = key.expose_secret();
        (key.len() == 32).then(|| Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
        })
    }

    /// `secret` sealed for `user`: a random nonce, then the ciphertext.
    pub fn seal(&self, user: UserId, secret: &TotpSecret) -> Result<Vec<u8>, NoRandomness> {
        let mut nonce = [0; NONCE_BYTES];
        getrandom::fill(&mut nonce)?;
        let aad = associated_data(user);
        let payload = Payload {
            msg: secret.0.expose_secret(),
            aad: &aad,
        };
        // Encryption into a Vec fails only on a message longer than the
        // cipher's limit (256 GiB), and a secret is 20 bytes.
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        Ok([&nonce[..], &sealed].concat())
    }

    /// The secret sealed for `user` in `sealed`.
    pub fn open(&self, user: UserId, sealed: &[u8]) -> Result<TotpSecret, Unsealable> {
        if sealed.len() <= NONCE_BYTES {
            return Err(Unsealable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let aad = associated_data(user);
        let payload = Payload {
            msg: ciphertext,
            aad: &aad,
        };
        self.cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map(|secret| TotpSecret(secret.into()))
            .map_err(|_| Unsealable)
    }
}

fn associated_data(user: UserId) -> Vec<u8> {
    format!("portcullis totp secret of {user}").into_bytes()
}

/// A recovery code as shown to its owner once: `abcd-efgh-ijkl-mnop`.
pub fn generate_recovery_code() -> Result<String, NoRandomness> {
    let mut bytes = [0u8; RECOVERY_CODE_CHARS];
    getrandom::fill(&mut bytes)?;
    let letters: Vec<char> = bytes
        .iter()
        .map(|b| char::from(BASE32[usize::from(b & 31)]))
        .collect();
    Ok(letters
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// What the database keeps of a recovery code as typed: the SHA-256 of its
/// sixteen letters (case, spaces and dashes ignored); `None` when the input
/// cannot be a code at all.
pub fn recovery_code_hash(typed: &str) -> Option<[u8; 32]> {
    if typed.len() > MAX_CODE_INPUT {
        return None;
    }
    let letters: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (letters.len() == RECOVERY_CODE_CHARS && letters.bytes().all(|b| BASE32.contains(&b)))
        .then(|| Sha256::digest(letters.as_bytes()).into())
}

/// RFC 4648 base32, upper case, without padding.
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let index = usize::try_from((buffer >> bits) & 31).unwrap_or(0);
            out.push(char::from(BASE32[index].to_ascii_uppercase()));
        }
    }
    if bits > 0 {
        let index = usize::try_from((buffer << (5 - bits)) & 31).unwrap_or(0);
        out.push(char::from(BASE32[index].to_ascii_uppercase()));
    }
    out
}

/// The QR code of `text` as an SVG document, drawn on the server so that
/// the page needs no script to show it.
pub fn qr_svg(text: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).expect("in range")
    }

    #[test]
    fn codes_match_rfc_6238s_sha1_test_vectors() {
        // RFC 6238 appendix B: the ASCII secret "12345678901234567890"; its
        // eight-digit codes end in these six digits.
        let secret = TotpSecret(b"12345678901234567890".to_vec().into());
        assert_eq!(secret.code_at_step(59 / 30).as_deref(), Some("287082"));
        assert_eq!(
            secret.code_at_step(1_111_111_109 / 30).as_deref(),
            Some("081804")
        );
        assert_eq!(
            secret.code_at_step(2_000_000_000 / 30).as_deref(),
            Some("279037")
        );
    }

    #[test]
    fn a_code_matches_one_step_either_side_and_no_further() {
        let secret = TotpSecret::generate().expect("random");
        let now = at(1_800_000_000);
        let step = step_of(now);
        for drift in -1..=1 {
            let code = secret.code_at_step(step + drift).expect("code");
            assert_eq!(secret.matching_step(&code, now), Some(step + drift));
        }
        for drift in [-2, 2] {
            let code = secret.code_at_step(step + drift).expect("code");
            assert_eq!(secret.matching_step(&code, now), None);
        }
        for junk in ["", "12345", "1234567", "abcdef", "12 345", "١٢٣٤٥٦"] {
            assert_eq!(secret.matching_step(junk, now), None, "{junk}");
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_and_key() {
        let key = SecretSlice::from(vec![7u8; 32]);
        let sealer = SecretSealer::new(&key).expect("32 bytes");
        let (alice, bob) = (UserId::random(), UserId::random());
        let secret = TotpSecret::generate().expect("random");
        let sealed = sealer.seal(alice, &secret).expect("random");
        let opened = sealer.open(alice, &sealed).expect("opens");
        assert_eq!(opened.base32(), secret.base32());
        assert!(sealer.open(bob, &sealed).is_err());
        let other = SecretSealer::new(&SecretSlice::from(vec![8u8; 32])).expect("32 bytes");
        assert!(other.open(alice, &sealed).is_err());
        assert!(sealer.open(alice, &sealed[..10]).is_err());
        assert!(SecretSealer::new(&SecretSlice::from(vec![1u8; 16])).is_none());
    }

    #[test]
    fn recovery_codes_are_read_however_they_are_typed() {
        let code = generate_recovery_code().expect("random");
        assert_eq!(code.len(), 19, "{code}");
        let hash = recovery_code_hash(&code).expect("a code");
        assert_eq!(recovery_code_hash(&code.to_uppercase()), Some(hash));
        assert_eq!(recovery_code_hash(&code.replace('-', " ")), Some(hash));
        assert_eq!(recovery_code_hash(&code.replace('-', "")), Some(hash));
        for junk in [
            "",
            "abcd-efgh-ijkl-mno",
            "abcd-efgh-ijkl-mno1",
            &"a".repeat(100),
        ] {
            assert_eq!(recovery_code_hash(junk), None, "{junk}");
        }
    }

    #[test]
    fn the_uri_names_the_account_and_carries_the_base32_secret() {
        let secret = TotpSecret(b"12345678901234567890".to_vec().into());
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let read =
            TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").expect("reads");
        assert_eq!(read.base32(), secret.base32());
        assert!(TotpSecret::from_base32("GEZDGNBV").is_none(), "too short");
        assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1").is_none());
        let uri = secret.otpauth_uri("Example Site", "ada");
        assert_eq!(
            uri,
            "otpauth://totp/Example%20Site:ada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Site&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).expect("fits a QR code");
        assert!(svg.contains("<svg") && !svg.contains("<script"));
    }
}
